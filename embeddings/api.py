"""REST API of the embedding cache: `GET /api/embeddings/stats/` for its operators
(superusers, `embeddings.access`)."""

from rest_framework import serializers
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from embeddings.access import is_operator
from embeddings.sections import stats_sections
from embeddings.selectors import get_cache_stats

try:  # documents the endpoint in the host's OpenAPI schema when it has drf-spectacular
    from drf_spectacular.utils import OpenApiResponse, extend_schema
except ImportError:  # a host project without it

    def extend_schema(**kwargs):
        return lambda view: view

    def OpenApiResponse(**kwargs):  # stands in for the class
        return None


class UsageSerializer(serializers.Serializer):
    requests = serializers.IntegerField(help_text="Texts looked up.")
    hits = serializers.IntegerField()
    misses = serializers.IntegerField(help_text="Texts whose vector was computed.")
    hit_rate = serializers.FloatField(allow_null=True)
    corrupt = serializers.IntegerField(help_text="Cached values that failed validation.")
    errors = serializers.IntegerField(help_text="Failed cache operations.")
    encode_seconds = serializers.FloatField(help_text="Time spent in the model.")


class ModelStatsSerializer(serializers.Serializer):
    fingerprint = serializers.CharField()
    label = serializers.CharField()
    dimension = serializers.IntegerField(allow_null=True)
    storage_dtype = serializers.CharField(allow_null=True)
    current = serializers.BooleanField(help_text="The model this deployment is configured with.")
    entries = serializers.IntegerField(allow_null=True, help_text="As of entries_counted_at.")
    lifetime = UsageSerializer()
    last_hour = UsageSerializer()


class WarningSerializer(serializers.Serializer):
    code = serializers.CharField()
    level = serializers.ChoiceField(choices=["warning", "critical"])
    message = serializers.CharField()


class CacheStatsSerializer(serializers.Serializer):
    backend = serializers.ChoiceField(choices=["redis", "sentinel", "cluster", "disk"])
    location = serializers.CharField(help_text="Password masked.")
    tls = serializers.BooleanField()
    authenticated = serializers.BooleanField()
    reachable = serializers.BooleanField()
    error = serializers.CharField(allow_null=True)
    ttl_seconds = serializers.IntegerField(allow_null=True, help_text="null: no expiry.")
    model = serializers.CharField()
    fingerprint = serializers.CharField()
    model_loaded = serializers.BooleanField(help_text="In the process that answered.")
    storage_dtype = serializers.CharField()
    entries_total = serializers.IntegerField(allow_null=True, help_text="Keys in the store.")
    entries_current_model = serializers.IntegerField(allow_null=True)
    entries_counted_at = serializers.FloatField(allow_null=True, help_text="Unix time.")
    entries_count_age_seconds = serializers.FloatField(allow_null=True)
    used_memory = serializers.IntegerField(allow_null=True, help_text="Bytes.")
    maxmemory = serializers.IntegerField(allow_null=True, help_text="Bytes; 0: no limit.")
    maxmemory_policy = serializers.CharField(allow_null=True)
    evicted_keys = serializers.IntegerField(allow_null=True, help_text="Since Redis started.")
    persistence = serializers.DictField()
    server_version = serializers.CharField(allow_null=True)
    servers = serializers.ListField(
        child=serializers.CharField(), help_text="From settings: server, sentinels or seed nodes."
    )
    nodes = serializers.ListField(
        child=serializers.DictField(),
        help_text="Cluster: one entry per primary (address, used_memory, keys).",
    )
    lifetime = UsageSerializer()
    last_hour = UsageSerializer()
    models = ModelStatsSerializer(many=True)
    warnings = WarningSerializer(many=True)
    serving = serializers.DictField(
        help_text="engine (torch/onnxruntime), precision, loaded, load_seconds (this process)."
    )
    generated_at = serializers.FloatField()
    sections = serializers.DictField(
        child=serializers.DictField(),
        help_text="The project's extra sections (STATS_SECTIONS), e.g. `codeframe_jobs`: the "
        "job queue.",
    )


class IsOperator(BasePermission):
    def has_permission(self, request: Request, view) -> bool:
        return is_operator(request.user)


class CacheStatsView(APIView):
    """Embedding cache statistics and warnings. Answers even when the cache is unreachable."""

    permission_classes = [IsOperator]

    @extend_schema(
        responses={
            200: CacheStatsSerializer,
            403: OpenApiResponse(description="Not an operator (superusers only)"),
        },
        summary="Embedding cache statistics",
    )
    def get(self, request: Request) -> Response:
        payload = get_cache_stats().as_dict()
        payload["sections"] = {section.name: section.as_dict() for section in stats_sections()}
        return Response(CacheStatsSerializer(payload).data)
