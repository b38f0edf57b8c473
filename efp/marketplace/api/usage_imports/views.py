"""`/api/marketplace-usage-imports/`: usage from a CSV file, previewed (`dry_run`, the default) or
applied all or none; `template/` gives a CSV to start from (docs/compatibility.md, "Usage imports")."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpResponse
from drf_spectacular.utils import extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from efp.marketplace.api.usage_imports.serializers import UsageImportSerializer, plan_data, too_large
from efp.marketplace.services import usage as usage_services
from efp.marketplace.services import usage_import_staging, usage_imports
from efp.rest.viewsets import acting_user


class UsageImportViewSet(viewsets.ViewSet):
    parser_classes = (MultiPartParser, FormParser)

    @extend_schema(request=UsageImportSerializer, responses={200: None, 400: None, 413: None})
    def create(self, request: Request) -> Response:
        body = UsageImportSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        upload = body.validated_data["file"]
        if upload.size > settings.EFP_MAX_IMPORT_BYTES:
            return Response(
                {"detail": too_large(upload.size)}, status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
            )
        agent = str(request.META.get("HTTP_USER_AGENT", ""))
        try:
            plan = usage_imports.import_usage(
                user=acting_user(request),
                content=upload.read(),
                dry_run=body.validated_data["dry_run"],
                source=usage_services.source_for(agent),
                user_agent=agent,
            )
        except usage_imports.ImportRefused as refused:
            return Response(
                {**refused.field_errors(), **plan_data(refused.plan)}, status=status.HTTP_400_BAD_REQUEST
            )
        return Response(plan_data(plan), status=status.HTTP_200_OK)

    @extend_schema(responses={(200, "text/csv"): str})
    @action(detail=False, methods=["get"])
    def template(self, request: Request) -> HttpResponse:
        response = HttpResponse(
            usage_import_staging.template_csv(user=acting_user(request)),
            content_type="text/csv; charset=utf-8",
        )
        response["Content-Disposition"] = 'attachment; filename="usage-import-template.csv"'
        return response
