"""`manage.py embeddings_stats`: the cache's stats and warnings in a shell."""

import json as jsonlib

from django.core.management.base import BaseCommand, CommandError

from embeddings import maintenance, services
from embeddings.exceptions import EmbeddingsError
from embeddings.selectors import get_cache_stats


class Command(BaseCommand):
    help = "Show embedding cache statistics and warnings (exit 1 when the cache is unreachable)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--json", action="store_true", help="Print the stats as JSON.")
        parser.add_argument(
            "--count", action="store_true", help="Count cached vectors per model first (SCAN)."
        )
        parser.add_argument(
            "--reset", action="store_true", help="Zero the counters of every model first."
        )

    def handle(self, *args, json: bool = False, count: bool = False, reset: bool = False, **opts):
        try:
            if reset:
                services.reset_counters()
                self.stdout.write("Counters reset.")
            if count:
                maintenance.refresh_entry_counts()
        except EmbeddingsError as exc:
            raise CommandError(str(exc)) from exc
        stats = get_cache_stats(wait_for_recount=True)  # a thread would die with the command
        if json:
            self.stdout.write(_dumps(stats.as_dict()))
        else:
            self._table(stats)
        if not stats.reachable:
            raise CommandError(f"cache unreachable: {stats.error}")

    def _table(self, stats) -> None:
        def rate(value):
            return "-" if value is None else f"{value:.1%}"

        def number(value):
            return "-" if value is None else f"{value:,}"

        rows = [
            ("backend", f"{stats.backend} {stats.server_version or ''}".strip()),
            ("location", stats.location),
            ("reachable", "yes" if stats.reachable else f"NO ({stats.error})"),
            ("model", f"{stats.model} [{stats.fingerprint}, {stats.storage_dtype}]"),
            ("model loaded here", "yes" if stats.model_loaded else "no"),
            ("served by", f"{stats.serving.get('engine')} {stats.serving.get('precision') or ''}"),
            ("ttl", f"{stats.ttl_seconds:,} s" if stats.ttl_seconds else "no expiry"),
            ("keys in store", number(stats.entries_total)),
            ("this model's vectors", number(stats.entries_current_model)),
            ("memory used", number(stats.used_memory)),
            ("maxmemory / policy", f"{number(stats.maxmemory)} / {stats.maxmemory_policy or '-'}"),
            *(
                (
                    f"node {node['address']}",
                    f"{number(node.get('keys'))} keys, {number(node.get('used_memory'))} bytes"
                    if node["reachable"]
                    else "NOT ANSWERING",
                )
                for node in stats.nodes
            ),
            (
                "hit rate, last hour",
                f"{rate(stats.last_hour.hit_rate)} of {stats.last_hour.requests:,}",
            ),
            (
                "hit rate, lifetime",
                f"{rate(stats.lifetime.hit_rate)} of {stats.lifetime.requests:,}",
            ),
            ("hits / misses", f"{stats.lifetime.hits:,} / {stats.lifetime.misses:,}"),
            ("errors / corrupt", f"{stats.lifetime.errors:,} / {stats.lifetime.corrupt:,}"),
            ("model seconds", f"{stats.lifetime.encode_seconds:,.1f}"),
        ]
        width = max(len(name) for name, _ in rows)
        for name, value in rows:
            self.stdout.write(f"{name.ljust(width)}  {value}")
        for warning in stats.warnings:
            style = self.style.ERROR if warning.level == "critical" else self.style.WARNING
            self.stdout.write(style(f"{warning.level.upper()}: {warning.message}"))


def _dumps(data) -> str:
    return jsonlib.dumps(data, indent=2, sort_keys=True)
