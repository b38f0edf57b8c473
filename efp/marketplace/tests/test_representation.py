"""The compiled rendering of our serializers (efp.rest.representation) says exactly what DRF says."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from rest_framework import serializers
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from efp.marketplace import selectors
from efp.marketplace.api.offerings.querysets import offering_queryset
from efp.marketplace.api.offerings.serializers import OfferingSerializer
from efp.marketplace.api.orders.serializers import OrderDetailsSerializer
from efp.marketplace.api.resources.querysets import resource_queryset
from efp.marketplace.api.resources.serializers import ResourceDetailSerializer, ResourceSerializer
from efp.marketplace.api.usage.querysets import component_usage_queryset, user_usage_queryset
from efp.marketplace.api.usage.serializers import ComponentUsageSerializer, ComponentUserUsageSerializer
from efp.marketplace.models import ComponentUsage, ComponentUserUsage, Offering, Order, Resource
from efp.marketplace.services import orders as order_services
from efp.marketplace.services import usage as usage_services
from efp.marketplace.services import user_usage as user_usage_services
from efp.marketplace.services.usage import UsageItem, UserUsageItem
from efp.marketplace.tests.base import MarketplaceTestCase
from efp.marketplace.tests.factories import make_order, make_resource


def _request(user: Any, query: str = "") -> Request:
    request = Request(APIRequestFactory().get(f"/api/x/{query}"))
    request.user = user
    return request


class CompiledRepresentationTests(MarketplaceTestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        cls.resource = make_resource(cls.alice, cls.carol, cls.project_a1, cls.offering, name="ok")
        cls.pending = make_order(cls.alice, cls.project_a1, cls.offering, name="waiting")
        rejected = make_order(cls.alice, cls.project_a1, cls.offering, name="no")
        order_services.reject_order_by_provider(order=rejected, user=cls.carol, comment="too big")
        usages = usage_services.set_usage(
            user=cls.staff, resource=cls.resource, usages=[UsageItem("cpu", Decimal("12.5"))]
        )
        user_usage_services.set_user_usages(
            user=cls.staff,
            component_usage=usages[0],
            items=[UserUsageItem("anna", Decimal(5)), UserUsageItem("ben", Decimal("7.5"), user=cls.bob)],
        )

    def assert_same(
        self, serializer_class: type[serializers.Serializer], objects: Any, request: Request
    ) -> None:
        rows = list(objects)
        assert rows
        for row in rows:
            serializer = serializer_class(context={"request": request})
            compiled = serializer.to_representation(row)
            drf = serializers.Serializer.to_representation(serializer, row)
            if "last_sync" in drf and drf["last_sync"] is None:
                del drf["last_sync"]  # ResourceSerializer's own rule, applied after either path
            # Rendered, so that True and 1 or a str and a UUID are told apart.
            assert JSONRenderer().render(compiled) == JSONRenderer().render(drf), serializer_class

    def test_it_renders_orders_as_drf_does_for_every_reader(self) -> None:
        orders = selectors.orders_with_details(Order.objects.all()).order_by("pk")
        for user in (self.alice, self.carol, self.staff):
            self.assert_same(OrderDetailsSerializer, orders, _request(user))

    def test_it_renders_resources_and_their_details_as_drf_does(self) -> None:
        resources = resource_queryset(Resource.objects.all()).order_by("pk")
        self.assert_same(ResourceSerializer, resources, _request(self.carol))
        self.assert_same(ResourceDetailSerializer, resources, _request(self.carol))

    def test_it_keeps_only_the_fields_asked_for(self) -> None:
        request = _request(self.carol, "?field=uuid&field=name&field=limits&field=nonsense")
        resources = resource_queryset(Resource.objects.all()).order_by("pk")
        self.assert_same(ResourceSerializer, resources, request)
        assert set(ResourceSerializer(resources[0], context={"request": request}).data) == {
            "uuid",
            "name",
            "limits",
        }

    def test_it_renders_usage_and_catalogue_as_drf_does(self) -> None:
        request = _request(self.carol)
        self.assert_same(
            ComponentUsageSerializer, component_usage_queryset(ComponentUsage.objects.all()), request
        )
        self.assert_same(
            ComponentUserUsageSerializer, user_usage_queryset(ComponentUserUsage.objects.all()), request
        )
        self.assert_same(OfferingSerializer, offering_queryset(Offering.objects.all()), request)
