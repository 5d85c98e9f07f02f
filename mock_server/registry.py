"""Every resource the mock serves, declared once: search columns, ID-set GET, OPTIONS and builder.

Order matters: resources are built top to bottom, so a builder can read what an earlier one made.
Column lists follow brightpearl-api.md §8 (real column order, reportDataType, reference tables) and,
where a recorded search exists (order, product, contact, customer-payment), its metaData: types and
sortable flags as the real service declares them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from .builders import accounting, catalogue, integration, orders, parties, reference, sales, warehouse
from .resources import BOOLEAN, IDSET, INTEGER, PERIOD, SEARCH_STRING, STRING, Column, NotFound, Record, Resource

ORDER_TYPE_IDS = {code: type_id for type_id, code in reference.ORDER_TYPE_CODES.items()}
STOCK_STATUS_IDS = {code: status_id for status_id, code, _ in reference.ORDER_STOCK_STATUSES}
SHIPPING_STATUS_IDS = {code: status_id for status_id, code, _ in reference.ORDER_SHIPPING_STATUSES}
PAYMENT_STATUS_IDS = {name: status_id for status_id, name in reference.ORDER_PAYMENT_STATUSES.items()}


def _order_party_id(order: Record) -> int | None:
    parties_ = order["parties"]
    return (parties_.get("customer") or parties_.get("supplier") or {}).get("contactId")


def _first_tax_date(order: Record) -> str | None:
    return order["invoices"][0]["taxDate"] if order.get("invoices") else None


def _email(kind: str):
    return lambda contact: contact["communication"]["emails"].get(kind, {}).get("email")


def _first_category(product: Record) -> int | None:
    categories = product["salesChannels"][0]["categories"]
    return int(categories[0]["categoryCode"]) if categories else None


def _updated_since_creation(record: Record) -> str | None:
    """The search's `updatedOn` cell: empty until the record is changed after its creation, as real
    order searches answer (and contact searches, a peer warns); the GET has the date either way."""
    updated = record.get("updatedOn")
    return None if updated == record.get("createdOn") else updated


def _listed(
    name: str,
    service: str,
    build: Callable[..., Iterable[Record]],
    columns: tuple[Column, ...] = (),
    id_field: str = "id",
    **more: Any,
) -> Resource:
    """A resource whose GET without an ID set lists every record, at its own name (reference data), and
    whose search, if it has `columns`, is `{name}-search`."""
    return Resource(
        name=name,
        service=service,
        id_field=id_field,
        build=build,
        search=f"{name}-search" if columns else None,
        columns=columns,
        get=name,
        get_all=True,
        **more,
    )


def _custom_field_metadata(name: str, service: str, path: str, kind: str) -> Resource:
    return Resource(
        name=name,
        service=service,
        id_field="id",
        build=reference.custom_field_builder(kind),
        get=f"{path}/custom-field-meta-data",
        get_all=True,
    )


# supplier-payment-search's columns; the customer search adds transactionCode, amountAuthorized, expires.
# Types and sortable flags as a recorded customer-payment search (2026) declares them.
_payment_columns = (
    Column("paymentId", IDSET),
    Column("transactionRef", STRING, sortable=False),
    Column("paymentMethodCode", STRING, sortable=False),
    Column("paymentType", STRING, sortable=False),
    Column("orderId", IDSET, sortable=False),
    Column("currencyId", IDSET, sortable=False),
    Column("currencyCode", STRING, sortable=False),
    Column("amountPaid", STRING, sortable=False),
    Column("paymentDate", PERIOD),
    Column("createdOn", PERIOD),
    Column("journalId", IDSET),
)

RESOURCES: list[Resource] = [
    # order-service reference data
    _listed("order-type", "order", reference.build_order_types),
    _listed("order-status", "order", reference.build_order_statuses, id_field="statusId"),
    _listed("order-stock-status", "order", reference.build_order_stock_statuses),
    _listed("order-shipping-status", "order", reference.build_order_shipping_statuses),
    _custom_field_metadata("sale-custom-field", "order", "sale", "sale"),
    _custom_field_metadata("purchase-custom-field", "order", "purchase", "purchase"),
    # accounting-service reference data
    _listed(
        "currency",
        "accounting",
        reference.build_currencies,
        columns=(
            Column("id", IDSET),
            Column("title", SEARCH_STRING),
            Column("code", STRING),
            Column("symbol", STRING),
            Column("exchangeRate", STRING),
            Column("isDefault", BOOLEAN),
            Column("exchangeRateVarianceNominalCode", STRING),
        ),
    ),
    _listed("tax-code", "accounting", reference.build_tax_codes),
    # warehouse-service reference data
    _listed(
        "warehouse",
        "warehouse",
        reference.build_warehouses,
        columns=(
            Column("id", IDSET),
            Column("name", SEARCH_STRING),
            Column("typeDescription", STRING),
            Column("addressId", INTEGER, "address.addressId"),
        ),
    ),
    _listed(
        "shipping-method",
        "warehouse",
        reference.build_shipping_methods,
        columns=(Column("id", IDSET), Column("code", STRING), Column("name", SEARCH_STRING)),
    ),
    # product-service reference data
    _listed("price-list", "product", reference.build_price_lists),
    _listed("channel", "product", reference.build_channels),
    _listed("channel-brand", "product", reference.build_channel_brands, id_field="channelBrandId"),
    _listed(
        "brand",
        "product",
        catalogue.build_brands,
        columns=(Column("brandId", IDSET, "id"), Column("name", SEARCH_STRING), Column("description", SEARCH_STRING)),
    ),
    _listed(
        "product-type",
        "product",
        catalogue.build_product_types,
        columns=(Column("id", IDSET), Column("name", SEARCH_STRING)),
    ),
    _listed("season", "product", catalogue.build_seasons, columns=(Column("id", IDSET), Column("name", SEARCH_STRING))),
    _listed(
        "brightpearl-category",
        "product",
        catalogue.build_categories,
        columns=(
            Column("id", IDSET),
            Column("name", SEARCH_STRING),
            Column("parentId", INTEGER),
            Column("active", BOOLEAN),
            Column("createdOn", PERIOD),
            Column("createdById", INTEGER),
            Column("updatedOn", PERIOD),
            Column("updatedBy", INTEGER, "updatedById"),
        ),
    ),
    _custom_field_metadata("product-custom-field", "product", "product", "product"),
    # contacts (before products: products name their primary supplier)
    _custom_field_metadata("customer-custom-field", "contact", "customer", "customer"),
    _custom_field_metadata("supplier-custom-field", "contact", "supplier", "supplier"),
    Resource(
        name="contact",
        service="contact",
        id_field="contactId",
        build=parties.build_contacts,
        search="contact-search",
        columns=(
            Column("contactId", IDSET),
            Column("primaryEmail", SEARCH_STRING, _email("PRI")),
            Column("secondaryEmail", SEARCH_STRING, _email("SEC")),
            Column("tertiaryEmail", SEARCH_STRING, _email("TER")),
            Column("firstName", SEARCH_STRING),
            Column("lastName", SEARCH_STRING),
            Column("isSupplier", BOOLEAN, "relationshipToAccount.isSupplier", sortable=False),
            Column("companyName", SEARCH_STRING, "organisation.name"),
            Column("isStaff", BOOLEAN, "relationshipToAccount.isStaff", sortable=False),
            Column(
                "isCustomer",
                BOOLEAN,
                lambda c: not c["relationshipToAccount"]["isSupplier"] and not c["relationshipToAccount"]["isStaff"],
                sortable=False,
            ),
            Column("createdOn", PERIOD),
            Column("updatedOn", PERIOD, _updated_since_creation),
            Column("lastContactedOn", PERIOD),
            Column("lastOrderedOn", PERIOD),
            Column("nominalCode", INTEGER, lambda c: int(c["financialDetails"]["nominalCode"])),
            Column("isPrimary", BOOLEAN, "isPrimaryContact"),
            Column("pri", STRING, "communication.telephones.PRI", sortable=False),
            Column("sec", STRING, "communication.telephones.SEC", sortable=False),
            Column("mob", STRING, "communication.telephones.MOB", sortable=False),
            Column("exactCompanyName", STRING, "organisation.name"),
            Column("title", STRING, "salutation"),
        ),
        get="contact",
        missing=NotFound("No Contact Found"),
        optional={"customFields": "customFields"},
    ),
    Resource(
        name="product",
        service="product",
        id_field="id",
        build=catalogue.build_products,
        search="product-search",
        columns=(
            Column("productId", IDSET, "id", reference="productCategoryMembership"),
            Column("productName", SEARCH_STRING, lambda p: p["salesChannels"][0]["productName"]),
            Column("SKU", STRING, "identity.sku"),
            Column("barcode", STRING, "identity.barcode"),
            Column("EAN", STRING, "identity.ean"),
            Column("UPC", STRING, "identity.upc"),
            Column("ISBN", STRING, "identity.isbn"),
            Column("MPN", STRING, "identity.mpn"),
            Column("stockTracked", BOOLEAN, "stock.stockTracked"),
            Column("salesChannelName", STRING, lambda p: p["salesChannels"][0]["salesChannelName"], filterable=False),
            Column("createdOn", PERIOD),
            Column("updatedOn", PERIOD),
            Column("brightpearlCategoryCode", IDSET, _first_category, sortable=False),
            Column("productGroupId", INTEGER),
            Column("brandId", IDSET),
            Column("productTypeId", IDSET),
            Column("productStatus", STRING, "status"),
            Column("primarySupplierId", IDSET),
        ),
        get="product",
        optional={"customFields": "customFields"},
    ),
    Resource(
        name="order",
        service="order",
        id_field="id",
        build=orders.build_orders,
        search="order-search",
        columns=(
            Column("orderId", IDSET, "id"),
            Column("orderTypeId", IDSET, lambda o: ORDER_TYPE_IDS[o["orderTypeCode"]], reference="orderTypeNames"),
            Column("contactId", INTEGER, _order_party_id),
            Column("orderStatusId", INTEGER, "orderStatus.orderStatusId", reference="orderStatusNames"),
            Column(
                "orderStockStatusId",
                INTEGER,
                lambda o: STOCK_STATUS_IDS[o["stockStatusCode"]],
                reference="orderStockStatusNames",
            ),
            Column("createdOn", PERIOD),
            Column("createdById", INTEGER),
            Column("customerRef", STRING, "reference"),
            Column(
                "orderPaymentStatusId",
                INTEGER,
                lambda o: PAYMENT_STATUS_IDS[o["orderPaymentStatus"]],
                reference="orderPaymentStatusNames",
            ),
            Column("updatedOn", PERIOD, _updated_since_creation),
            Column("parentOrderId", IDSET),
            Column(
                "orderShippingStatusId",
                INTEGER,
                lambda o: SHIPPING_STATUS_IDS[o["shippingStatusCode"]],
                reference="orderShippingStatusNames",
            ),
            Column("externalRef", STRING),
            Column("installedIntegrationInstanceId", INTEGER),
            Column("warehouseId", IDSET),
            Column("staffOwnerContactId", INTEGER, "assignment.current.staffOwnerContactId"),
            Column("taxDate", PERIOD, _first_tax_date),
            Column("departmentId", INTEGER, lambda o: 0),
            Column("deliveryDate", PERIOD, "delivery.deliveryDate"),
        ),
        get="order",
        optional={"customFields": "customFields"},
    ),
    Resource(
        name="sales-order",
        service="order",
        id_field="id",
        build=sales.build_sales_orders,
        search="sales-order-search",
        columns=(
            Column("salesOrderId", IDSET, "id"),
            Column("customerId", INTEGER),
            Column("customerRef", STRING, "ref"),
            Column("orderStatusId", INTEGER, "statusId"),
            Column("orderStockStatus", STRING, "stockStatusCode"),
            Column("orderPaymentStatus", STRING),
            Column("orderShippingStatus", STRING, "shippingStatusCode"),
            Column("staffOwnerId", INTEGER),
            Column("channelId", INTEGER),
            Column("warehouseId", IDSET),
            Column("externalRef", STRING),
            Column("isHistoricalOrder", BOOLEAN, "historicalOrder"),
            Column("placedOn", PERIOD),
            Column("createdOn", PERIOD),
            Column("updatedOn", PERIOD),
            Column("taxDate", PERIOD),
            Column("deliveryDate", PERIOD, "delivery.date"),
        ),
        get="sales-order",
    ),
    Resource(name="sales-credit", service="order", id_field="id", build=sales.build_sales_credits, get="sales-credit"),
    # column types as tap-brightpearl's live discovery typed them (brightpearl-api.md §12)
    Resource(
        name="purchase-order-landed-cost",
        service="order",
        id_field="orderRowId",
        build=orders.build_landed_costs,
        search="purchase-order-lc-search",
        columns=(
            Column("orderRowId", IDSET),
            Column("supplierName", SEARCH_STRING),
            Column("weight", STRING),
            Column("sku", STRING),
            Column("productName", SEARCH_STRING),
            Column("quantity", STRING),
            Column("volume", STRING),
            Column("productPrice", STRING),
            Column("orderId", IDSET),
            Column("productId", IDSET),
            Column("currentLandedCosts", STRING),
        ),
    ),
    Resource(
        name="order-note",
        service="order",
        id_field="noteId",
        build=sales.build_order_notes,
        search="order-note-search",
        columns=(
            Column("orderId", IDSET),
            Column("noteId", IDSET),
            Column("contactId", INTEGER),
            Column("noteText", SEARCH_STRING),
            Column("isPublic", BOOLEAN),
            Column("dateAdded", PERIOD),
            Column("addedBy", INTEGER),
            Column("orderStatusId", INTEGER),
        ),
    ),
    # the rest of the catalogue
    Resource(
        name="product-price",
        service="product",
        id_field="productId",
        build=catalogue.build_product_prices,
        get="product-price",
        missing=NotFound("No Product Prices Found"),
    ),
    _listed(
        "collection",
        "product",
        catalogue.build_collections,
        columns=(
            Column("collectionId", IDSET, "id"),
            Column("collectionName", SEARCH_STRING, "name"),
            Column("brandId", IDSET),
        ),
    ),
    _listed("option", "product", catalogue.build_options, columns=(Column("id", IDSET), Column("name", SEARCH_STRING))),
    Resource(
        name="option-value",
        service="product",
        id_field="optionValueId",
        build=catalogue.build_option_values,
        search="option-value-search",
        columns=(
            Column("optionId", IDSET),
            Column("optionName", SEARCH_STRING),
            Column("optionValueId", IDSET),
            Column("optionValueName", SEARCH_STRING),
        ),
        get="option/{parent}/value",
        parent_field="optionId",
    ),
    # companies, groups, lead sources, tags
    Resource(
        name="company",
        service="contact",
        id_field="id",
        build=parties.build_companies,
        search="company-search",
        columns=(
            Column("companyId", IDSET, "id"),
            Column("name", SEARCH_STRING),
            Column("createdOn", PERIOD),
            Column("updatedOn", PERIOD),
        ),
        get="company",
        missing=NotFound("No Company Found"),
    ),
    Resource(
        name="contact-group-member",
        service="contact",
        id_field="contactGroupId",
        build=parties.build_contact_group_members,
        search="contact-group-member-search",
        search_rows=parties.group_member_rows,
        columns=(
            Column("contactId", IDSET),
            Column("firstName", SEARCH_STRING),
            Column("lastName", SEARCH_STRING),
            Column("contactGroupId", IDSET),
            Column("contactGroupName", SEARCH_STRING),
            Column("contactGroupDescription", SEARCH_STRING),
        ),
    ),
    _listed(
        "contact-group",
        "contact",
        parties.build_contact_groups,
        columns=(
            Column("contactGroupId", IDSET),
            Column("name", SEARCH_STRING),
            Column("description", SEARCH_STRING),
            Column("numberOfMembers", INTEGER),
        ),
        id_field="contactGroupId",
    ),
    _listed("lead-source", "contact", parties.build_lead_sources),
    _listed("tag", "contact", parties.build_tags, as_map=True),
    # the ledger
    _listed(
        "nominal-code",
        "accounting",
        accounting.build_nominal_codes,
        columns=(
            Column("code", STRING),
            Column("name", SEARCH_STRING),
            Column("type", IDSET, "type.id"),
            Column("bank", BOOLEAN),
            Column("active", BOOLEAN),
            Column("currencyId", IDSET),
        ),
    ),
    _listed("accounting-period", "accounting", accounting.build_accounting_periods),
    _listed("exchange-rate", "accounting", accounting.build_exchange_rates, id_field="currencyId"),
    _listed(
        "payment-method",
        "accounting",
        accounting.build_payment_methods,
        columns=(
            Column("id", IDSET),
            Column("code", STRING),
            Column("name", SEARCH_STRING),
            Column("bankAccountNominalCode", STRING),
            Column("installedIntegrationInstanceId", INTEGER),
        ),
    ),
    Resource(
        name="journal",
        service="accounting",
        id_field="id",
        build=accounting.build_journals,
        search="journal-search",
        search_rows=accounting.journal_lines,
        columns=(
            Column("journalId", IDSET),
            Column("journalType", STRING),
            Column("orderId", IDSET),
            Column("invoiceReference", SEARCH_STRING),
            Column("channelId", INTEGER),
            Column("nominalCode", STRING),
            Column("journalDate", PERIOD),
            Column("journalDebit", STRING),
            Column("journalCredit", STRING),
            Column("journalRef", INTEGER),
            Column("currencyId", INTEGER),
            Column("exchangeRate", STRING),
            Column("transactionDebit", STRING),
            Column("transactionCredit", STRING),
            Column("projectId", INTEGER),
            Column("leadSourceId", INTEGER),
            Column("contactId", INTEGER),
            Column("journalDueDate", PERIOD),
            Column("journalDateEntered", PERIOD),
            Column("createdContactId", INTEGER),
            Column("taxCodeId", INTEGER),
            Column("taxReconciliationDate", PERIOD),
            Column("taxPeriodId", INTEGER),
            Column("journalRowId", IDSET),
        ),
        get="journal",
    ),
    Resource(
        name="customer-payment",
        service="accounting",
        id_field="paymentId",
        build=accounting.build_customer_payments,
        search="customer-payment-search",
        columns=(
            *_payment_columns[:2],
            Column("transactionCode", STRING, sortable=False),
            *_payment_columns[2:7],
            Column("amountAuthorized", STRING, sortable=False),
            _payment_columns[7],
            Column("expires", PERIOD, sortable=False),
            *_payment_columns[8:],
        ),
    ),
    Resource(
        name="supplier-payment",
        service="accounting",
        id_field="paymentId",
        build=accounting.build_supplier_payments,
        search="supplier-payment-search",
        columns=_payment_columns,
    ),
    _listed(
        "webhook", "integration", integration.build_webhooks, missing=NotFound("No webhooks available in ID Set {ids}")
    ),
    # stock: locations, goods notes, movements, availability (built in this order: each reads the last)
    Resource(
        name="zone",
        service="warehouse",
        id_field="id",
        build=warehouse.build_zones,
        search="zone-search",
        columns=(Column("id", IDSET), Column("name", SEARCH_STRING), Column("warehouseId", IDSET)),
    ),
    Resource(
        name="location",
        service="warehouse",
        id_field="id",
        build=warehouse.build_locations,
        search="location-search",
        columns=(
            Column("id", IDSET),
            Column("warehouseId", IDSET),
            Column("zoneId", IDSET),
            *(Column(f"grouping{part}", STRING) for part in "ABCD"),
            Column("barcode", STRING),
        ),
        get="warehouse/{parent}/location",
        parent_field="warehouseId",
    ),
    Resource(
        name="goods-out-note",
        service="warehouse",
        id_field="goodsOutNoteId",
        build=warehouse.build_goods_out_notes,
        search="goods-note/goods-out-search",
        columns=(
            Column("goodsOutNoteId", IDSET),
            Column("printed", BOOLEAN, "status.printed"),
            Column("picked", BOOLEAN, "status.picked"),
            Column("packed", BOOLEAN, "status.packed"),
            Column("shipped", BOOLEAN, "status.shipped"),
            Column("shippedOn", PERIOD, "status.shippedOn"),
            Column("orderId", IDSET),
            Column("shippingMethodId", INTEGER, "shipping.shippingMethodId"),
            Column("warehouseId", IDSET),
            Column("priority", BOOLEAN),
            Column("createdOn", PERIOD),
            Column("releaseDate", PERIOD),
            Column("createdBy", INTEGER),
            Column("labelUri", STRING),
            Column("channelId", INTEGER),
            Column("transfer", BOOLEAN),
        ),
        get="order/{parent}/goods-note/goods-out",
        parent_field="orderId",
        max_ids=500,
        as_map=True,
    ),
    Resource(
        name="goods-in-note",
        service="warehouse",
        id_field="batchId",
        build=warehouse.build_goods_in_notes,
        search="goods-in-search",
        search_rows=warehouse.goods_in_lines,
        columns=(
            Column("purchaseOrderId", IDSET),
            Column("batchId", IDSET),
            Column("userBatchRef", SEARCH_STRING),
            Column("productId", IDSET),
            Column("locationId", IDSET),
            *(Column(f"grouping{part}", STRING) for part in "ABCD"),
            Column("price", STRING),
            Column("landedCosts", STRING),
            Column("currCode", STRING),
            Column("receivedQuantity", INTEGER),
            Column("onHand", INTEGER),
            Column("createdDate", PERIOD),
            Column("receivedDate", PERIOD),
            Column("warehouseId", IDSET),
        ),
        get="order/{parent}/goods-note/goods-in",
        parent_field="orderId",
        as_map=True,
    ),
    Resource(
        name="stock-correction",
        service="warehouse",
        id_field="goodsNoteId",
        build=warehouse.build_stock_corrections,
        get="warehouse/{parent}/stock-correction",
        parent_field="warehouseId",
    ),
    Resource(
        name="goods-movement",
        service="warehouse",
        id_field="goodsMovementId",
        build=warehouse.build_goods_movements,
        search="goods-movement-search",
        columns=(
            Column("goodsMovementId", IDSET),
            Column("productId", IDSET),
            Column("salesOrderRowId", INTEGER),
            Column("purchaseOrderRowId", INTEGER),
            Column("quantity", INTEGER),
            Column("destinationLocationId", INTEGER),
            Column("warehouseId", IDSET),
            Column("goodsNoteId", IDSET),
            Column("productValue", STRING),
            Column("currencyCode", STRING),
            Column("orderId", IDSET),
            Column("isCleared", BOOLEAN),
            Column("isQuarantine", BOOLEAN),
            Column("batchId", INTEGER),
            Column("goodsNoteTypeCode", STRING),
            Column("updatedOn", PERIOD),
        ),
    ),
    Resource(
        name="product-availability",
        service="warehouse",
        id_field="productId",
        build=warehouse.build_availability,
        get="product-availability",
        as_map=True,
        optional={"breakDownByLocation": "breakDownByLocation"},
    ),
]

REGISTRY: dict[str, Resource] = {resource.name: resource for resource in RESOURCES}

# referenceData tables of search columns: name -> (dataset, IDs on the page) -> {id: label}
NAME_TABLES = {
    "orderTypeNames": reference.ORDER_TYPES,
    "orderStatusNames": {status[0]: status[1] for status in reference.ORDER_STATUSES},
    # the status descriptions, not codes: a recorded order search names shipping status 1 "No stock tracked
    # products on order"
    "orderStockStatusNames": {status_id: description for status_id, _, description in reference.ORDER_STOCK_STATUSES},
    "orderShippingStatusNames": {
        status_id: description for status_id, _, description in reference.ORDER_SHIPPING_STATUSES
    },
    "orderPaymentStatusNames": reference.ORDER_PAYMENT_STATUSES,
}


def reference_table(dataset, name: str, ids: set) -> dict:
    if name == "productCategoryMembership":
        products = dataset["product"]
        return {
            str(product_id): [
                int(c["categoryCode"]) for c in products.record(product_id)["salesChannels"][0]["categories"]
            ]
            for product_id in sorted(ids)
            if product_id in products
        }
    names = NAME_TABLES[name]
    return {str(key): names[key] for key in sorted(ids) if key in names}
