"""manage.py embeddings_build_onnx: build the ONNX backend's model files ahead of first use."""

from django.core.management.base import BaseCommand, CommandError, CommandParser

from embeddings.backends.onnx import OnnxBackend, artifacts
from embeddings.backends.onnx.backend import onnx_root
from embeddings.conf import get_config
from embeddings.exceptions import EmbeddingsError


class Command(BaseCommand):
    help = (
        "Export the configured model to ONNX (fp32, and int8 quantized per channel) under "
        "EMBEDDINGS['ONNX_DIR'] and check its parity with the torch model, so that image builds "
        "and deploys do not build on the first request. Files that are already built and intact "
        "are kept unless --force."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--precision",
            choices=[*artifacts.PRECISIONS, "all"],
            help="What to build (default: EMBEDDINGS['ONNX_PRECISION']).",
        )
        parser.add_argument("--model", help="Model name or folder (default: the configured one).")
        parser.add_argument(
            "--force",
            action="store_true",
            help="Rebuild even if intact files exist (also retries a failed parity check).",
        )

    def handle(self, *args, **options) -> None:
        config = get_config()
        precision = options["precision"] or config["ONNX_PRECISION"]
        precisions = ["fp32", "int8"] if precision == "all" else [precision]
        for name in precisions:
            backend = OnnxBackend(
                model=options["model"] or config["MODEL"],
                config={**config, "ONNX_PRECISION": name},
            )
            try:
                backend.pipeline()  # refuses models it cannot reproduce, before building
                folder, manifest = artifacts.ensure_built(
                    backend.source,
                    name,
                    onnx_root(config),
                    force=options["force"],
                    in_subprocess=False,
                )
            except EmbeddingsError as exc:
                raise CommandError(str(exc)) from exc
            model_file = folder / f"{name}.onnx"
            parity = manifest["parity"]
            self.stdout.write(
                f"{name}: {model_file} ({model_file.stat().st_size / 2**20:.1f} MB), built "
                f"{manifest['built_at']} from {manifest['source']}; parity with torch on "
                f"{parity['texts']} texts: cosine mean {parity['mean']:.4f}, min "
                f"{parity['min']:.4f}"
            )
