"""`/api/invoices/` and `/api/invoice-items/`, read-only, as Waldur serves them (docs/compatibility.md,
"Invoices"): money at Waldur 8's scales and JSON types. Strings with ten decimals for an invoice's `price`,
`tax`, `total` and an item's `unit_price`, `quantity` (Waldur's DecimalField(22, 10)); strings with two
for an item's `tax` and `total`; numbers for an item's `price` and an invoice's `compensations` and
`incurred_costs` (Decimals DRF renders as floats)."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import django_filters
from django.db.models import Q, QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field, extend_schema_view
from rest_framework import serializers

from efp.invoices.models import Invoice, InvoiceItem
from efp.invoices.selectors import visible_invoice_items, visible_invoices
from efp.marketplace.api.common import HyperlinkUUIDFilter
from efp.marketplace.billing_months import add_months
from efp.rest.fields import HexUUIDField, LinkField, SparseFieldsMixin, UTCDateTimeField
from efp.rest.filters import FilterSet, MultipleUUIDFilter
from efp.rest.viewsets import ReadOnlyViewSet, acting_user

TEN_PLACES = Decimal("0.0000000001")
CENT = Decimal("0.01")
# Waldur's WALDUR_INVOICES["PAYMENT_INTERVAL"] default: an invoice is due 30 days after it is issued.
PAYMENT_DAYS = 30
TAX = Decimal(0)  # no VAT is charged here (docs/compatibility.md)


def money(value: Decimal, places: Decimal = TEN_PLACES) -> str:
    """A decimal as Waldur's DecimalField renders it: a string with `places`' decimals."""
    return format(Decimal(value).quantize(places), "f")


@extend_schema_field(OpenApiTypes.STR)
class MoneyField(serializers.Field):
    """A string with ten decimals (Waldur 8's PRICE_DECIMAL_PLACES), or two with `cents=True`."""

    def __init__(self, *, cents: bool = False, **kwargs: Any) -> None:
        kwargs["read_only"] = True
        self.places = CENT if cents else TEN_PLACES
        super().__init__(**kwargs)

    def to_representation(self, value: Any) -> str:
        return money(value, self.places)


class InvoiceItemSerializer(serializers.ModelSerializer):
    """An item inside an invoice (the SDK's `InvoiceItem`)."""

    uuid = HexUUIDField(read_only=True)
    url = LinkField("invoice-item-detail")
    price = serializers.SerializerMethodField()
    tax = serializers.SerializerMethodField()
    total = MoneyField(source="price", cents=True)
    unit_price = MoneyField()
    quantity = MoneyField()
    factor = serializers.SerializerMethodField()
    start = UTCDateTimeField(read_only=True)
    end = UTCDateTimeField(read_only=True)
    project_uuid = HexUUIDField(read_only=True, allow_null=True)
    resource = LinkField("marketplace-resource-detail", uuid_attr="resource_uuid", allow_null=True)
    resource_uuid = HexUUIDField(read_only=True, allow_null=True)
    backend_uuid = serializers.SerializerMethodField()
    credit = serializers.SerializerMethodField()

    class Meta:
        model = InvoiceItem
        fields = (
            "uuid", "url", "name", "price", "tax", "total", "unit_price", "unit", "factor", "measured_unit",
            "start", "end", "article_code", "project_name", "project_uuid", "quantity", "details", "resource",
            "resource_uuid", "resource_name", "billing_type", "backend_uuid", "credit",
        )  # fmt: skip
        read_only_fields = fields

    def get_price(self, item: InvoiceItem) -> float:
        return float(item.price)

    def get_tax(self, item: InvoiceItem) -> str:
        return money(item.price * TAX, CENT)

    def get_factor(self, item: InvoiceItem) -> int:
        return 1  # `quantity` carries the amount billed

    def get_backend_uuid(self, item: InvoiceItem) -> str | None:
        return None

    def get_credit(self, item: InvoiceItem) -> bool:
        return False


class InvoiceItemDetailSerializer(SparseFieldsMixin, serializers.ModelSerializer):
    """`/api/invoice-items/` (the SDK's `InvoiceItemDetail`)."""

    invoice = LinkField("invoice-detail", attr="invoice")
    uuid = HexUUIDField(read_only=True)
    price = serializers.SerializerMethodField()
    offering_uuid = HexUUIDField(source="offering.uuid", read_only=True)
    offering_name = serializers.CharField(source="offering.name", read_only=True)
    offering_component_type = serializers.SerializerMethodField()
    project_uuid = HexUUIDField(read_only=True, allow_null=True)
    customer_uuid = HexUUIDField(source="invoice.customer.uuid", read_only=True)
    customer_name = serializers.CharField(source="invoice.customer.name", read_only=True)
    resource = LinkField("marketplace-resource-detail", uuid_attr="resource_uuid", allow_null=True)
    unit_price = MoneyField()
    quantity = MoneyField()
    start = UTCDateTimeField(read_only=True)
    end = UTCDateTimeField(read_only=True)

    class Meta:
        model = InvoiceItem
        fields = (
            "invoice", "uuid", "price", "offering_uuid", "offering_name", "offering_component_type",
            "project_uuid", "project_name", "customer_uuid", "customer_name", "resource", "article_code",
            "unit_price", "unit", "quantity", "measured_unit", "name", "start", "end", "details",
        )  # fmt: skip
        read_only_fields = fields

    def get_price(self, item: InvoiceItem) -> float:
        return float(item.price)

    def get_offering_component_type(self, item: InvoiceItem) -> str | None:
        return item.details.get("offering_component_type")


def due_date(invoice: Invoice) -> datetime.date:
    """Waldur's: the invoice date plus the payment interval; while pending, from the day it will be issued
    (the first of the next month)."""
    issued = invoice.invoice_date or add_months(datetime.date(invoice.year, invoice.month, 1), 1)
    return issued + datetime.timedelta(days=PAYMENT_DAYS)


class InvoiceSerializer(SparseFieldsMixin, serializers.ModelSerializer):
    url = LinkField("invoice-detail")
    uuid = HexUUIDField(read_only=True)
    number = serializers.IntegerField(read_only=True)
    customer = LinkField("customer-detail", attr="customer")
    price = MoneyField(source="total_price")
    tax = serializers.SerializerMethodField()
    total = MoneyField(source="total_price")
    issuer_details = serializers.SerializerMethodField()
    due_date = serializers.SerializerMethodField()
    customer_details = serializers.SerializerMethodField()
    items = serializers.SerializerMethodField()
    backend_id = serializers.SerializerMethodField()
    payment_url = serializers.SerializerMethodField()
    reference_number = serializers.SerializerMethodField()
    compensations = serializers.SerializerMethodField()
    incurred_costs = serializers.SerializerMethodField()

    class Meta:
        model = Invoice
        fields = (
            "url", "uuid", "number", "customer", "price", "tax", "total", "state", "year", "month",
            "issuer_details", "invoice_date", "due_date", "customer_details", "items", "backend_id",
            "payment_url", "reference_number", "compensations", "incurred_costs",
        )  # fmt: skip
        read_only_fields = fields

    def get_tax(self, invoice: Invoice) -> str:
        return money(invoice.total_price * TAX)

    @extend_schema_field(OpenApiTypes.DATE)
    def get_due_date(self, invoice: Invoice) -> str:
        return due_date(invoice).isoformat()

    def get_issuer_details(self, invoice: Invoice) -> dict[str, Any]:
        return {}

    def get_customer_details(self, invoice: Invoice) -> dict[str, Any]:
        customer = invoice.customer
        return {
            "name": customer.name,
            "address": "",
            "country": customer.country,
            "country_name": None,
            "email": customer.email,
            "postal": "",
            "phone_number": "",
            "bank_name": "",
            "bank_account": "",
            "vat_code": "",
        }

    @extend_schema_field(InvoiceItemSerializer(many=True))
    def get_items(self, invoice: Invoice) -> list[dict[str, Any]]:
        return list(InvoiceItemSerializer(invoice.items.all(), many=True, context=self.context).data)

    def get_backend_id(self, invoice: Invoice) -> str:
        return ""

    def get_payment_url(self, invoice: Invoice) -> str:
        return ""

    def get_reference_number(self, invoice: Invoice) -> str:
        return ""

    def get_compensations(self, invoice: Invoice) -> float:
        return 0.0  # Waldur's: the credit-paid items' cost; there are no credits here

    def get_incurred_costs(self, invoice: Invoice) -> float:
        """Waldur's: the sum of `unit_price x quantity` over the items, unrounded (the prefetched items)."""
        return float(sum((item.unit_price * item.quantity for item in invoice.items.all()), Decimal(0)))


# --- filters ---------------------------------------------------------------------------------------


class InvoiceFilter(FilterSet):
    customer = HyperlinkUUIDFilter(field_name="customer__uuid")
    customer_uuid = MultipleUUIDFilter(field_name="customer__uuid")
    state = django_filters.MultipleChoiceFilter(choices=Invoice.State.choices)
    year = django_filters.NumberFilter()
    month = django_filters.NumberFilter()
    created = django_filters.DateFilter(field_name="created", lookup_expr="date")
    start_date = django_filters.DateFilter(method="filter_start_date")
    end_date = django_filters.DateFilter(method="filter_end_date")
    # Waldur's: organisations whose accounting is running. Every organisation's is here: nothing filtered.
    accounting_is_running = django_filters.BooleanFilter(method="filter_nothing")

    class Meta:
        model = Invoice
        fields: list[str] = []

    def filter_start_date(self, qs: QuerySet[Invoice], name: str, value: datetime.date) -> QuerySet[Invoice]:
        """Invoices of the month of `value` and later."""
        return qs.filter(Q(year__gt=value.year) | Q(year=value.year, month__gte=value.month))

    def filter_end_date(self, qs: QuerySet[Invoice], name: str, value: datetime.date) -> QuerySet[Invoice]:
        """Invoices of the month of `value` and earlier."""
        return qs.filter(Q(year__lt=value.year) | Q(year=value.year, month__lte=value.month))

    def filter_nothing(self, qs: QuerySet[Invoice], name: str, value: Any) -> QuerySet[Invoice]:
        return qs


class InvoiceItemFilter(FilterSet):
    customer_uuid = MultipleUUIDFilter(field_name="invoice__customer__uuid")
    offering_uuid = MultipleUUIDFilter(field_name="offering__uuid")
    project_uuid = MultipleUUIDFilter(field_name="project_uuid")
    resource_uuid = MultipleUUIDFilter(field_name="resource_uuid")
    year = django_filters.NumberFilter(field_name="invoice__year")
    month = django_filters.NumberFilter(field_name="invoice__month")
    start_year = django_filters.NumberFilter(method="filter_start")
    start_month = django_filters.NumberFilter(method="filter_start")
    # Items paid from a credit: there are no credits here, so a credit's items are none.
    credit_uuid = django_filters.UUIDFilter(method="filter_credit")

    class Meta:
        model = InvoiceItem
        fields: list[str] = []

    def filter_start(self, qs: QuerySet[InvoiceItem], name: str, value: Any) -> QuerySet[InvoiceItem]:
        """Items of `start_year`-`start_month` (January without a month) and later (both given: the same
        filter applied twice)."""
        year, month = self.form.cleaned_data.get("start_year"), self.form.cleaned_data.get("start_month")
        month = int(month or 1)
        if year is None:
            return qs.filter(invoice__month__gte=month)
        return qs.filter(
            Q(invoice__year__gt=int(year)) | Q(invoice__year=int(year), invoice__month__gte=month)
        )

    def filter_credit(self, qs: QuerySet[InvoiceItem], name: str, value: Any) -> QuerySet[InvoiceItem]:
        return qs.none() if value else qs


# --- views -----------------------------------------------------------------------------------------


FIELD = OpenApiParameter(
    "field", OpenApiTypes.STR, many=True, description="Only these fields of each invoice."
)


@extend_schema_view(list=extend_schema(parameters=[FIELD]), retrieve=extend_schema(parameters=[FIELD]))
class InvoiceViewSet(ReadOnlyViewSet):
    """An organisation's monthly invoices: its owners', staff's and support's to read."""

    serializer_class = InvoiceSerializer
    filterset_class = InvoiceFilter
    ordering_fields = ("created", "month", "year")

    def get_queryset(self) -> QuerySet[Invoice]:
        return visible_invoices(acting_user(self.request))


class InvoiceItemViewSet(ReadOnlyViewSet):
    """Invoice items: the organisation's owners', and the provider side's of its offerings."""

    serializer_class = InvoiceItemDetailSerializer
    filterset_class = InvoiceItemFilter

    def get_queryset(self) -> QuerySet[InvoiceItem]:
        return visible_invoice_items(acting_user(self.request))


def register(router: Any) -> None:
    router.register("invoices", InvoiceViewSet, basename="invoice")
    router.register("invoice-items", InvoiceItemViewSet, basename="invoice-item")
