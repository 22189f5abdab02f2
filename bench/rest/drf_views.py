"""Baseline (c): the same endpoints as DRF ModelViewSets with ModelSerializers."""

from __future__ import annotations

from django.apps import apps
from rest_framework import mixins, serializers, viewsets
from rest_framework.pagination import CursorPagination, PageNumberPagination
from rest_framework.routers import SimpleRouter

Product = apps.get_model("store", "Product")
User = apps.get_model("store", "User")


class ProductSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    class Meta:
        model = Product
        fields = (
            "id",
            "sku",
            "name",
            "category",
            "price_cents",
            "stock",
            "created_at",
            "updated_at",
        )


class UserSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    class Meta:
        model = User
        fields = ("id", "full_name", "email", "created_at", "updated_at")


class PagePagination(PageNumberPagination):
    page_size = 20
    page_size_query_param = "limit"


class IdCursorPagination(CursorPagination):
    page_size = 20
    ordering = "id"


class ProductViewSet(viewsets.ModelViewSet):  # type: ignore[type-arg]
    queryset = Product.objects.order_by("id")
    serializer_class = ProductSerializer
    pagination_class = PagePagination


class CursorProductViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):  # type: ignore[type-arg]
    queryset = Product.objects.all()
    serializer_class = ProductSerializer
    pagination_class = IdCursorPagination


class UserViewSet(viewsets.ModelViewSet):  # type: ignore[type-arg]
    queryset = User.objects.order_by("id")
    serializer_class = UserSerializer


router = SimpleRouter()
router.register("products", ProductViewSet, basename="bench-product")
router.register("cursor-products", CursorProductViewSet, basename="bench-cursor-product")
router.register("users", UserViewSet, basename="bench-user")
