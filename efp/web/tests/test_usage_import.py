"""Import usage in the GUI: carol uploads a file, reads the preview, applies it; the upload is hers only."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from django.utils import timezone

from efp.marketplace.billing_months import add_months, billing_period_of, month_key
from efp.marketplace.models import ComponentUsage, StagedUsageImport, UsageRevision
from efp.web.tests.base import WebTestCase

URL = "/provider/usage-import/"


class ImportPageTests(WebTestCase):
    def setUp(self) -> None:
        self.alloc = self.resource("alloc")
        self.month = month_key(billing_period_of(timezone.now()))
        self.last = month_key(add_months(billing_period_of(timezone.now()), -1))

    def upload(self, user: Any, text: str) -> Any:
        file = SimpleUploadedFile("june.csv", text.encode(), content_type="text/csv")
        return self.login(user).post(URL, {"file": file})

    def good(self) -> str:
        return (
            "resource_uuid,component,month,amount,reason\n"
            f"{self.alloc.uuid.hex},cpu,{self.month},42.5,\n"
            f"{self.alloc.uuid.hex},gpu,{self.last},3,meter fixed\n"
        )

    def test_it_previews_then_applies_the_kept_upload(self) -> None:
        response = self.upload(self.carol, self.good())
        assert response.status_code == 200
        html = response.content.decode()
        assert "2 new" in html and "Apply 2 lines" in html
        assert not ComponentUsage.objects.filter(resource=self.alloc).exists()
        staged = StagedUsageImport.objects.get(owner=self.carol)
        assert staged.filename == "june.csv"
        # Another provider user cannot apply carol's upload.
        refused = self.login(self.oscar).post(URL, {"staged": staged.uuid.hex})
        assert refused.status_code == 400
        assert "expired or was applied already" in refused.content.decode()
        assert not ComponentUsage.objects.filter(resource=self.alloc).exists()
        applied = self.login(self.carol).post(URL, {"staged": staged.uuid.hex}, follow=True)
        assert "Imported 2 lines: 2 new, 0 changed, 0 unchanged." in applied.content.decode()
        values = {
            (u.component.type, month_key(u.billing_period)): u.usage
            for u in ComponentUsage.objects.filter(resource=self.alloc)
        }
        assert values == {("cpu", self.month): Decimal("42.50"), ("gpu", self.last): Decimal("3.00")}
        revisions = UsageRevision.objects.filter(
            verb=UsageRevision.Verb.IMPORT, source=UsageRevision.Source.GUI
        )
        assert revisions.count() == 2
        assert not StagedUsageImport.objects.exists()  # applied: gone

    def test_errors_are_shown_and_there_is_no_apply_button(self) -> None:
        text = self.good() + f"{self.alloc.uuid.hex},cpu,{self.last},1,\n"
        html = self.upload(self.carol, text).content.decode()
        assert "1 in error" in html
        assert "is closed: a correction needs a reason" in html
        assert "Apply" not in html.split("Preview of", 1)[1]

    def test_a_bad_file_is_refused_with_the_form(self) -> None:
        response = self.upload(self.carol, "colour\nred\n")
        assert response.status_code == 400
        assert "Unknown column(s): colour" in response.content.decode()
        assert not StagedUsageImport.objects.exists()

    def test_an_expired_upload_is_gone(self) -> None:
        self.upload(self.carol, self.good())
        staged = StagedUsageImport.objects.get()
        StagedUsageImport.objects.update(expires=timezone.now() - datetime.timedelta(seconds=1))
        response = self.login(self.carol).post(URL, {"staged": staged.uuid.hex})
        assert response.status_code == 400
        assert not ComponentUsage.objects.filter(resource=self.alloc).exists()
        # The next upload of anyone clears expired ones.
        self.upload(self.oscar, self.good())
        assert list(StagedUsageImport.objects.values_list("owner", flat=True)) == [self.oscar.pk]

    def test_rows_a_user_may_not_report_are_errors_not_names(self) -> None:
        html = self.upload(self.quinn, self.good()).content.decode()
        assert "Resource not found." in html
        assert "alloc" not in html.split("Preview of", 1)[1]

    @override_settings(EFP_MAX_IMPORT_BYTES=50)
    def test_a_file_over_the_limit_is_413(self) -> None:
        assert self.upload(self.carol, self.good()).status_code == 413

    def test_consumers_do_not_get_the_page(self) -> None:
        assert self.login(self.alice).get(URL).status_code == 403
        assert self.upload(self.alice, self.good()).status_code == 403

    def test_the_template_names_my_resources(self) -> None:
        response = self.login(self.carol).get(f"{URL}template.csv")
        assert response.status_code == 200
        assert self.alloc.uuid.hex in response.content.decode()
        assert self.alloc.uuid.hex not in self.login(self.quinn).get(f"{URL}template.csv").content.decode()
