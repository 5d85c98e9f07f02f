"""Writes: the POST, PUT, PATCH and DELETE calls integrators make, declared once in `WRITES`.

One module a domain, as `builders/` has, on `framework.py`; the journal (`--data-file`) is
`journal.py`. The app looks a call up here before the registry's search/GET/OPTIONS routes, so a
write goes through the same pipeline as a read (account -> rate limit -> faults -> auth -> route).
Codes the public record does not give are the mock's choice, in Brightpearl's `{SVC}C-{nnn}` form;
README's "Writes" table lists them.
"""

from __future__ import annotations

from .accounting import post_customer_payment
from .catalogue import post_product, put_product, put_product_price
from .framework import Write
from .integration import delete_webhook, post_webhook, simulate_webhook
from .orders import patch_order_row, post_order, post_order_row, put_order, put_order_status
from .parties import patch_company, patch_contact, post_company, post_contact
from .sales import post_sales_order
from .warehouse import post_goods_in_note, post_goods_out_note, post_stock_correction

WRITES: list[Write] = [
    Write("POST", "contact-service/contact", post_contact, "contact-post"),
    Write("PATCH", "contact-service/contact/{contactId}", patch_contact, "contact-patch"),
    Write("POST", "contact-service/company", post_company, "company-post"),
    Write("PATCH", "contact-service/company/{companyId}", patch_company, "company-patch"),
    Write("POST", "product-service/product", post_product, "product-post"),
    Write("PUT", "product-service/product/{productId}", put_product, "product-put"),
    Write("PUT", "product-service/product-price/{productId}/price-list/{priceListId}", put_product_price,
          "product-price-put"),
    Write("POST", "order-service/order", post_order, "order-post"),
    Write("PUT", "order-service/order/{orderId}", put_order, "order-put"),
    Write("POST", "order-service/order/{orderId}/row", post_order_row, "order-row-post"),
    Write("PATCH", "order-service/order/{orderId}/row/{rowId}", patch_order_row, "order-row-patch"),
    Write("PUT", "order-service/order/{orderId}/status", put_order_status, "order-status-put"),
    Write("POST", "order-service/sales-order", post_sales_order, "sales-order-post"),
    Write("POST", "warehouse-service/order/{orderId}/goods-note/goods-out", post_goods_out_note,
          "goods-out-note-post"),
    Write("POST", "warehouse-service/goods-note/goods-in", post_goods_in_note, "goods-in-note-post"),
    Write("POST", "warehouse-service/warehouse/{warehouseId}/stock-correction", post_stock_correction,
          "stock-correction-post"),
    Write("POST", "accounting-service/customer-payment", post_customer_payment, "customer-payment-post"),
    Write("POST", "integration-service/webhook", post_webhook, "post-webhook"),
    Write("DELETE", "integration-service/webhook/{webhookId}", delete_webhook, "webhook-delete"),
    Write("POST", "integration-service/webhook/{webhookId}/simulate", simulate_webhook, "post-webhook-simulate"),
]


def find_write(method: str, path: str) -> tuple[Write, dict[str, int]] | None:
    """The write serving `method path` and the IDs its path names, or None when no write does."""
    for write in WRITES:
        ids = write.match(method, path)
        if ids is not None:
            return write, ids
    return None
