"""Writes: the POST, PUT, PATCH and DELETE calls integrators make, declared once in `WRITES`.

One module a domain, as `builders/` has, on `framework.py`; the journal (`--data-file`) is
`journal.py`. The app looks a call up here before the registry's search/GET/OPTIONS routes, so a
write goes through the same pipeline as a read (account -> rate limit -> faults -> auth -> route).
Codes the public record does not give are the mock's choice, in Brightpearl's `{SVC}C-{nnn}` form;
README's "Writes" table lists them.
"""

from __future__ import annotations

from functools import partial

from ..custom_fields import OWNERS
from .accounting import post_customer_payment
from .catalogue import post_product, put_product, put_product_price
from .custom_fields import patch_custom_fields
from .framework import Write
from .integration import delete_webhook, post_webhook, simulate_webhook
from .orders import patch_order_row, post_order, post_order_row, put_order, put_order_status
from .parties import patch_company, patch_contact, post_company, post_contact
from .sales import post_sales_order
from .warehouse import post_goods_in_note, post_goods_out_events, post_goods_out_note, post_stock_correction

# message-type values as recorded (brightpearl-api.md §3); the unrecorded ones follow their `{verb}-{resource}` form
WRITES: list[Write] = [
    Write("POST", "contact-service/contact", post_contact, "post-contact"),
    Write("PATCH", "contact-service/contact/{contactId}", patch_contact, "patch-contact"),
    Write("POST", "contact-service/company", post_company, "post-company"),
    Write("PATCH", "contact-service/company/{companyId}", patch_company, "patch-company"),
    Write("POST", "product-service/product", post_product, "post-product"),
    Write("PUT", "product-service/product/{productId}", put_product, "put-product"),
    Write(
        "PUT",
        "product-service/product-price/{productId}/price-list/{priceListId}",
        put_product_price,
        "put-product-price",
    ),
    Write("POST", "order-service/order", post_order, "post-order"),
    Write("PUT", "order-service/order/{orderId}", put_order, "put-order"),
    Write("POST", "order-service/order/{orderId}/row", post_order_row, "post-order-row"),
    Write("PATCH", "order-service/order/{orderId}/row/{rowId}", patch_order_row, "patch-order-row"),
    Write("PUT", "order-service/order/{orderId}/status", put_order_status, "put-order-status"),
    *(
        Write(
            "PATCH",
            f"{owner.path}/{{recordId}}/custom-field",
            partial(patch_custom_fields, owner),
            "patch-custom-fields",
        )
        for owner in OWNERS
    ),
    Write("POST", "order-service/sales-order", post_sales_order, "post-sales-order"),
    Write("POST", "warehouse-service/order/{orderId}/goods-note/goods-out", post_goods_out_note, "post-goods-out-note"),
    Write(
        "POST",
        "warehouse-service/goods-note/goods-out/{goodsOutNoteId}/event",
        post_goods_out_events,
        "post-goods-out-note-event",
    ),
    Write("POST", "warehouse-service/order/{orderId}/goods-note/goods-in", post_goods_in_note, "post-goods-in-note"),
    Write(
        "POST",
        "warehouse-service/warehouse/{warehouseId}/stock-correction",
        post_stock_correction,
        "post-stock-correction",
    ),
    Write("POST", "accounting-service/customer-payment", post_customer_payment, "post-customer-payment"),
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
