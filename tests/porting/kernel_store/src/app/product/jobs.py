from loom.core.job.job import Job
from loom.core.use_case import LoadById

from app.product.model import Product


class BuildProductSummaryJob(Job[str]):
    async def execute(
        self, product_id: int, product: Product = LoadById(Product, by="product_id")
    ) -> str:
        return f"{product.sku}: {product.stock} in stock"
