"""Customer payment writes: receipts, refunds and card authorisations, with the journals money moves post."""

from __future__ import annotations

from decimal import Decimal

from ..builders.accounting import DEBTORS
from ..resources import Record
from ..store import Dataset
from ..world import World
from .framework import (
    WriteCall,
    invalid,
    json_object,
    local_stamp,
    new_id,
    parse_decimal,
    parse_moment,
    search_values,
    text_field,
)
from .orders import save_order

PAYMENT_TYPES = ("RECEIPT", "PAYMENT", "AUTH")


def post_customer_payment(call: WriteCall) -> int:
    """A receipt, refund or card authorisation against a sales order or credit; money moves post a journal."""
    dataset = call.dataset
    body = json_object(call.body, "The customer payment")
    order_id = body.get("orderId")
    if order_id not in dataset["order"]:
        raise invalid("ACCC-001", f"Order {order_id!r} does not exist")
    order = dataset["order"].record(order_id)
    if order["orderTypeCode"] not in ("SO", "SC"):
        raise invalid(
            "ACCC-002",
            f"Order {order_id} is a {order['orderTypeCode']}; customer payments are for sales orders and credits",
        )
    method = next(
        (record for record in dataset["payment-method"].records() if record["code"] == body.get("paymentMethodCode")),
        None,
    )
    if method is None:
        raise invalid("ACCC-003", f"Payment method {body.get('paymentMethodCode')!r} does not exist")
    payment_type = body.get("paymentType")
    if payment_type not in PAYMENT_TYPES:
        raise invalid("ACCC-004", f"paymentType must be one of {', '.join(PAYMENT_TYPES)}")
    currency_code = body.get("currencyIsoCode")
    currency = next((record for record in dataset["currency"].records() if record["code"] == currency_code), None)
    if currency is None:
        raise invalid("ACCC-005", f"Currency code {currency_code!r} is not valid")
    if currency_code != order["currency"]["orderCurrencyCode"]:
        raise invalid(
            "ACCC-006", f"Order {order_id} is in {order['currency']['orderCurrencyCode']}, not {currency_code}"
        )
    amount = parse_decimal(body.get("amountPaid"), minimum=Decimal("0.01"))
    if amount is None:
        raise invalid("ACCC-007", "amountPaid must be a decimal amount above 0")
    paid_on = body.get("paymentDate")
    if paid_on is not None and parse_moment(paid_on) is None:
        raise invalid("ACCC-008", f"paymentDate must be an ISO 8601 date or date-time, not {paid_on!r}")
    paid_on = local_stamp(dataset, paid_on) if paid_on else call.now
    payment_id = new_id(dataset, "customer-payment")
    journal_id = (
        0
        if payment_type == "AUTH"
        else _post_payment_journal(call, order, method, currency, amount, payment_type, paid_on)
    )
    payment = {
        "paymentId": payment_id,
        "transactionRef": text_field(body, "transactionRef", default=f"API-{payment_id}"),
        "paymentMethodCode": method["code"],
        "paymentType": payment_type,
        "orderId": order_id,
        "currencyId": currency["id"],
        "currencyCode": currency_code,
        "amountPaid": World.money(amount, 2),
        "paymentDate": paid_on,
        "createdOn": call.now,
        "journalId": journal_id,
    }
    if body.get("transactionCode") is not None:
        payment["transactionCode"] = text_field(body, "transactionCode")
    if payment_type == "AUTH":
        payment["amountAuthorized"] = payment["amountPaid"]
    dataset["customer-payment"].put(payment)
    order["orderPaymentStatus"] = _payment_status(dataset, order)
    save_order(call, order)
    call.publish("customer-payment.created", [payment_id])
    call.publish("order.modified", [order_id])
    return payment_id


def _post_payment_journal(
    call: WriteCall, order: Record, method: Record, currency: Record, amount: Decimal, payment_type: str, paid_on: str
) -> int:
    """SR (receipt: bank debit, debtors credit) or CR (refund: the reverse), as the seeded ledger posts them."""
    dataset = call.dataset
    rate = Decimal(order["currency"]["exchangeRate"])
    journal_id = new_id(dataset, "journal")

    def line(nominal_code: str) -> Record:
        line_id = dataset.next_id(
            "journal-line",
            lambda: max(
                (
                    entry["id"]
                    for journal in dataset["journal"].records()
                    for side in ("debits", "credits")
                    for entry in journal[side]
                ),
                default=0,
            ),
        )
        return {
            "id": line_id,
            "nominalCode": nominal_code,
            "transactionAmount": World.money(amount, 2),
            "baseAmount": World.money(amount / rate, 2),
        }

    bank, debtors = line(method["bankAccountNominalCode"]), line(DEBTORS)
    debits, credits = ([bank], [debtors]) if payment_type == "RECEIPT" else ([debtors], [bank])
    current = order["assignment"]["current"]
    party = order["parties"]["customer"]
    journal = {
        "id": journal_id,
        "journalTypeCode": "SR" if payment_type == "RECEIPT" else "CR",
        "orderId": order["id"],
        "contactId": party["contactId"],
        "channelId": current["channelId"],
        "leadSourceId": current["leadSourceId"],
        "projectId": 0,
    }
    if order["invoices"]:
        journal["invoiceReference"] = order["invoices"][0]["invoiceReference"]
    journal.update(
        {
            "taxDate": paid_on,
            "dueDate": paid_on,
            "createdOn": call.now,
            "createdBy": 1,
            "currency": {
                "code": currency["code"],
                "currencyId": currency["id"],
                "exchangeRate": order["currency"]["exchangeRate"],
            },
            "debits": debits,
            "credits": credits,
        }
    )
    dataset["journal"].put(journal)
    return journal_id


def _payment_status(dataset: Dataset, order: Record) -> str:
    sign = {"RECEIPT": 1, "PAYMENT": -1, "AUTH": 0}
    paid = sum(
        (
            sign[payment_type] * Decimal(amount)
            for order_id, payment_type, amount in search_values(
                dataset["customer-payment"], "orderId", "paymentType", "amountPaid"
            )
            if order_id == order["id"]
        ),
        Decimal(0),
    )
    if paid <= 0:
        return "UNPAID"
    return "PAID" if paid >= Decimal(order["totalValue"]["total"]) else "PARTIALLY_PAID"
