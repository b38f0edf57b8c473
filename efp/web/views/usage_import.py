"""Import usage (issue 16, point 5): upload a usage CSV, see what each line would do, Apply it all or
nothing. The file is kept between preview and Apply (`services/usage_import_staging`); every rule is the
import service's."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse

from efp.errors import InvalidInput
from efp.marketplace.services import usage_import_staging as staging
from efp.marketplace.services.usage_imports import ImportPlan, ImportRefused, PlannedLine
from efp.web.access import provider_workspace
from efp.web.usage_forms import UsageImportForm as UploadForm
from efp.web.views.common import current_user, render_workspace

SECTION = "usage-import"
TEMPLATE = "web/provider/usage_import.html"
SHOWN_LINES = 500  # lines listed on the page; errors are always listed


def _shown(plan: ImportPlan) -> list[PlannedLine]:
    errors = [line for line in plan.lines if line.outcome == "error"]
    others = [line for line in plan.lines if line.outcome != "error"][: max(SHOWN_LINES - len(errors), 0)]
    return sorted([*errors, *others], key=lambda line: line.source.line)


def _page(request: HttpRequest, form: UploadForm, *, status: int = 200, **context: object) -> HttpResponse:
    plan = context.get("plan")
    if isinstance(plan, ImportPlan):
        context["shown"] = _shown(plan)
    context["max_mb"] = settings.EFP_MAX_IMPORT_BYTES // (1024 * 1024)
    return render_workspace(request, TEMPLATE, {"form": form, **context}, section=SECTION, status=status)


@provider_workspace
def usage_import(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return _page(request, UploadForm())
    user = current_user(request)
    if "staged" in request.POST:
        return _apply(request, user, str(request.POST["staged"]))
    form = UploadForm(request.POST, request.FILES)
    if not form.is_valid():
        return _page(request, form, status=400)
    upload = form.cleaned_data["file"]
    if upload.size > settings.EFP_MAX_IMPORT_BYTES:
        form.add_error("file", f"The file is too large; the limit is {settings.EFP_MAX_IMPORT_BYTES} bytes.")
        return _page(request, form, status=413)
    try:
        staged, plan = staging.stage_import(user=user, content=upload.read(), filename=upload.name or "")
    except InvalidInput as error:
        for problem in error.field_errors().get("file", [error.summary()]):
            form.add_error("file", str(problem))
        return _page(request, form, status=400)
    return _page(request, UploadForm(), plan=plan, staged=staged)


def _apply(request: HttpRequest, user: object, key: str) -> HttpResponse:
    try:
        plan = staging.apply_staged(user=user, key=key)
    except ImportRefused as refused:
        staged = staging.staged_import(user=user, key=key)
        return _page(request, UploadForm(), status=400, plan=refused.plan, staged=staged, refused=True)
    except InvalidInput as error:
        problems = error.field_errors().get("file", [error.summary()])
        return _page(request, UploadForm(), status=400, problems=problems)
    counts = plan.summary
    messages.success(
        request,
        f"Imported {counts['total']} lines: {counts['new']} new, {counts['changed']} changed,"
        f" {counts['unchanged']} unchanged.",
    )
    return redirect(reverse("web:usage-import"))


@provider_workspace
def usage_import_template(request: HttpRequest) -> HttpResponse:
    response = HttpResponse(
        staging.template_csv(user=current_user(request)), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = 'attachment; filename="usage-import-template.csv"'
    return response
