from loom.rest.model import PaginationMode, RestInterface

from app.product.model import Product


class ProductInterface(RestInterface[Product]):
    prefix = "/products"
    tags = ("Products",)
    auto = True
    pagination_mode = PaginationMode.CURSOR
