"""The ledger: nominal codes, periods, rates, payment methods, journals and the payments they record.

Every invoiced order posts one journal (sales invoice SI: debit 1100 debtors, credit sales per nominal
and tax code, credit 2200 tax; purchase invoice PI the reverse against 2100 creditors; credits SC/PC
reverse those). Every paid sales order posts a receipt journal SR (debit the payment method's bank,
credit 1100), every completed sales credit a refund journal CR, every paid purchase order a purchase
payment PP; the payment searches are read from those journals, so `journalId` always resolves.

Choices where the reference is silent: the nominal-code GET is keyed by a numeric `id` (the search's
first column is `code`); the refund journal type is `CR`; journal lines carry `id` (= `journalRowId`),
`nominalCode`, `transactionAmount`, `baseAmount` and `taxCodeId` when the line is taxed; the exchange
rate GET has one current rate per currency, keyed by `currencyId`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal

from ..resources import Record
from ..world import HISTORY_END, HISTORY_START, World
from .history import OrderFacts, orders
from .parties import STAFF_COUNT
from .reference import CURRENCIES

# id, code, name
NOMINAL_TYPES = {
    1: ("ASSET", "Assets"),
    2: ("LIABILITY", "Liabilities"),
    3: ("EQUITY", "Equity"),
    4: ("INCOME", "Income"),
    5: ("EXPENSE", "Expenses"),
}
# code, name, type id, bank account
NOMINAL_CODES = [
    ("1001", "Stock", 1, False),
    ("1100", "Trade debtors", 1, False),
    ("1200", "Bank current account", 1, True),
    ("1210", "Shopify Payments clearing", 1, True),
    ("1220", "Amazon Pay clearing", 1, True),
    ("2100", "Trade creditors", 2, False),
    ("2200", "Sales tax", 2, False),
    ("3000", "Share capital", 3, False),
    ("3200", "Retained earnings", 3, False),
    ("4000", "Sales", 4, False),
    ("4300", "Shipping income", 4, False),
    ("5000", "Cost of goods sold", 5, False),
    ("7900", "Exchange rate variance", 5, False),
    ("8200", "Bank charges", 5, False),
]
# id, code, name, bank nominal code, installed integration (0: none)
PAYMENT_METHODS = [
    (1, "BANK", "Bank transfer", "1200", 0),
    (2, "SHOPIFY", "Shopify Payments", "1210", 2),
    (3, "AMAZON", "Amazon Pay", "1220", 3),
]
METHOD_OF_CHANNEL = {1: "BANK", 2: "SHOPIFY", 3: "AMAZON", 4: "BANK", 5: "SHOPIFY"}
BANK_OF_METHOD = {code: bank for _, code, _, bank, _ in PAYMENT_METHODS}
METHOD_OF_BANK = {bank: code for _, code, _, bank, _ in PAYMENT_METHODS}
CURRENCY_IDS = {code: currency_id for currency_id, code, _, _, _ in CURRENCIES}
DEBTORS, CREDITORS, SALES_TAX, PURCHASES = "1100", "2100", "2200", "5000"
CENT = Decimal("0.01")


def build_nominal_codes(world: World) -> Iterator[Record]:
    for nominal_id, (code, name, type_id, bank) in enumerate(NOMINAL_CODES, start=1):
        type_code, type_name = NOMINAL_TYPES[type_id]
        record = {
            "id": nominal_id,
            "code": code,
            "name": name,
            "type": {"id": type_id, "code": type_code, "description": type_name},
            "bank": bank,
            "expense": type_id == 5,
            "reconcile": bank,
            "active": True,
        }
        if bank:
            record["currencyId"] = CURRENCY_IDS["USD"]
        yield record


# Periods are local calendar months from the one holding the day before history starts, so the
# opening stock and, west of UTC, the first orders (31 December local time) have a period too.
FIRST_PERIOD = HISTORY_START - timedelta(days=1)


def _month_starts(world: World) -> Iterator[datetime]:
    month = datetime(FIRST_PERIOD.year, FIRST_PERIOD.month, 1, tzinfo=world.tz)
    while month < HISTORY_END:
        yield month
        month = (month + timedelta(days=32)).replace(day=1)


def period_id(stamp: str) -> int:
    """The accounting period of a local date-time: periods are numbered from 1 in month order."""
    return (int(stamp[:4]) - FIRST_PERIOD.year) * 12 + int(stamp[5:7]) - FIRST_PERIOD.month + 1


def build_accounting_periods(world: World) -> Iterator[Record]:
    """Monthly periods over the history; those ended more than a month before its end are closed."""
    for number, start in enumerate(_month_starts(world), start=1):
        end = (start + timedelta(days=32)).replace(day=1) - timedelta(milliseconds=1)
        record = {"id": number, "startDate": world.stamp(start), "endDate": world.stamp(end)}
        if end < HISTORY_END - timedelta(days=31):
            record["closedByUserId"] = 1
            record["closedDate"] = world.stamp(world.later(end, 20))
        yield record


def build_exchange_rates(world: World) -> Iterator[Record]:
    for currency_id, _, _, _, rate in CURRENCIES:
        yield {"currencyId": currency_id, "rateActiveFrom": world.stamp(HISTORY_START), "rate": rate, "addedById": 1}


def build_payment_methods(world: World) -> Iterator[Record]:
    for method_id, code, name, bank, integration_id in PAYMENT_METHODS:
        yield {
            "id": method_id,
            "code": code,
            "name": name,
            "bankAccountNominalCode": bank,
            "installedIntegrationInstanceId": integration_id,
        }


class _Ledger:
    """Numbers journals and their lines as they are posted."""

    def __init__(self, world: World):
        self.world = world
        self.journal_id = 0
        self.row_id = 0

    def post(
        self,
        order: OrderFacts,
        type_code: str,
        moment: datetime,
        tax_date: str,
        debits: list[tuple[str, Decimal, int | None]],
        credits: list[tuple[str, Decimal, int | None]],
    ) -> Record:
        """A balanced journal; each side lists (nominal code, amount in the order currency, tax code ID)."""
        world = self.world
        self.journal_id += 1
        rate = order.rate
        record: Record = {
            "id": self.journal_id,
            "journalTypeCode": type_code,
            "orderId": order.id,
            "contactId": order.contact_id,
            "channelId": order.channel_id,
            "leadSourceId": order.lead_source_id,
            "projectId": 0,
        }
        if order.invoice_reference:
            record["invoiceReference"] = order.invoice_reference
        record.update(
            {
                "taxDate": tax_date,
                "dueDate": tax_date,
                "createdOn": world.stamp(moment),
                "createdBy": world.rng.randint(1, STAFF_COUNT),
                "currency": {
                    "code": order.currency_code,
                    "currencyId": CURRENCY_IDS[order.currency_code],
                    "exchangeRate": order.exchange_rate,
                },
                "debits": [self._line(*line, rate) for line in debits],
                "credits": [self._line(*line, rate) for line in credits],
            }
        )
        self._balance_base(record["debits"], record["credits"])
        return record

    def _balance_base(self, debits: list[Record], credits: list[Record]) -> None:
        """Base amounts are rounded line by line; the single control or bank line absorbs the odd cent."""
        gap = sum(Decimal(line["baseAmount"]) for line in credits) - sum(Decimal(line["baseAmount"]) for line in debits)
        if gap:
            line, sign = (debits[0], 1) if len(debits) == 1 else (credits[0], -1)
            line["baseAmount"] = self.world.money(Decimal(line["baseAmount"]) + sign * gap, 2)

    def _line(self, nominal_code: str, amount: Decimal, tax_code_id: int | None, rate: Decimal) -> Record:
        self.row_id += 1
        line = {
            "id": self.row_id,
            "nominalCode": nominal_code,
            "transactionAmount": self.world.money(amount, 2),
            "baseAmount": self.world.money(amount / rate, 2),
        }
        if tax_code_id is not None:
            line["taxCodeId"] = tax_code_id
        return line


def _invoice_lines(order: OrderFacts) -> tuple[list, list]:
    """(control line, income or expense lines): net grouped by nominal and tax code, then the tax."""
    purchase = order.type_code in ("PO", "PC")
    nets: dict[tuple[str, int], Decimal] = defaultdict(Decimal)
    tax = Decimal(0)
    for row in order.rows:
        nets[PURCHASES if purchase else row.nominal_code, row.tax_code_id] += row.net
        tax += row.tax
    lines = [(nominal, net.quantize(CENT), tax_code_id) for (nominal, tax_code_id), net in sorted(nets.items())]
    if tax:
        lines.append((SALES_TAX, tax, None))
    control = [(CREDITORS if purchase else DEBTORS, sum(amount for _, amount, _ in lines), None)]
    return control, lines


def build_journals(world: World) -> Iterator[Record]:
    ledger = _Ledger(world)
    for order in orders(world, "SO", "PO", "SC", "PC"):
        if order.tax_date:
            control, lines = _invoice_lines(order)
            # sales invoices and purchase credits debit the control account; the other two credit it
            debits, credits = (control, lines) if order.type_code in ("SO", "PC") else (lines, control)
            yield ledger.post(
                order,
                {"SO": "SI", "PO": "PI", "SC": "SC", "PC": "PC"}[order.type_code],
                order.updated,
                order.tax_date,
                debits,
                credits,
            )
        if order.payment_status != "PAID" or order.type_code == "PC":
            continue
        if order.type_code == "SO":
            paid = world.later(order.created, 0.02)
            bank = [(BANK_OF_METHOD[METHOD_OF_CHANNEL[order.channel_id]], order.total, None)]
            yield ledger.post(order, "SR", paid, world.stamp(paid), bank, [(DEBTORS, order.total, None)])
        elif order.type_code == "SC":
            paid = world.later(order.updated, 2)
            bank = [(BANK_OF_METHOD[METHOD_OF_CHANNEL[order.channel_id]], order.total, None)]
            yield ledger.post(order, "CR", paid, world.stamp(paid), [(DEBTORS, order.total, None)], bank)
        else:
            paid = world.later(order.updated, 30)
            bank = [(BANK_OF_METHOD["BANK"], order.total, None)]
            yield ledger.post(order, "PP", paid, world.stamp(paid), [(CREDITORS, order.total, None)], bank)


def journal_lines(journal: Record) -> Iterator[Record]:
    """The journal search's rows: one per line, debits first."""
    common = {
        "journalId": journal["id"],
        "journalType": journal["journalTypeCode"],
        "orderId": journal["orderId"],
        "invoiceReference": journal.get("invoiceReference"),
        "channelId": journal["channelId"],
        "journalDate": journal["taxDate"],
        "journalRef": journal["orderId"],
        "currencyId": journal["currency"]["currencyId"],
        "exchangeRate": journal["currency"]["exchangeRate"],
        "projectId": journal["projectId"],
        "leadSourceId": journal["leadSourceId"],
        "contactId": journal["contactId"],
        "journalDueDate": journal["dueDate"],
        "journalDateEntered": journal["createdOn"],
        "createdContactId": journal["createdBy"],
        "taxPeriodId": period_id(journal["taxDate"]),
    }
    for side, amount_keys in (
        ("debits", ("journalDebit", "transactionDebit")),
        ("credits", ("journalCredit", "transactionCredit")),
    ):
        for line in journal[side]:
            yield {
                **common,
                "nominalCode": line["nominalCode"],
                amount_keys[0]: line["baseAmount"],
                amount_keys[1]: line["transactionAmount"],
                "taxCodeId": line.get("taxCodeId"),
                "journalRowId": line["id"],
            }


TRANSACTION_PREFIX = {"BANK": "BT", "SHOPIFY": "gid://shopify/OrderTransaction/", "AMAZON": "AMZ-"}


def _payments(world: World, journal_types: dict[str, str]) -> Iterator[Record]:
    """Payments read off their journals: `journal_types` maps journal type to payment type."""
    payment_id = 0
    for journal in world.records("journal"):
        payment_type = journal_types.get(journal["journalTypeCode"])
        if payment_type is None:
            continue
        payment_id += 1
        bank_line = next(
            line for side in ("debits", "credits") for line in journal[side] if line["nominalCode"] in METHOD_OF_BANK
        )
        method = METHOD_OF_BANK[bank_line["nominalCode"]]
        yield {
            "paymentId": payment_id,
            "transactionRef": f"{TRANSACTION_PREFIX[method]}{world.rng.randrange(10**9, 10**10)}",
            "paymentMethodCode": method,
            "paymentType": payment_type,
            "orderId": journal["orderId"],
            "currencyId": journal["currency"]["currencyId"],
            "currencyCode": journal["currency"]["code"],
            "amountPaid": bank_line["transactionAmount"],
            "paymentDate": journal["taxDate"],
            "createdOn": journal["createdOn"],
            "journalId": journal["id"],
        }


def build_customer_payments(world: World) -> Iterator[Record]:
    for payment in _payments(world, {"SR": "RECEIPT", "CR": "PAYMENT"}):
        if payment["paymentMethodCode"] != "BANK":
            # card gateways authorise first: the authorised amount and gateway code travel with the receipt
            payment["transactionCode"] = f"AUTH{payment['paymentId']:07d}"
            payment["amountAuthorized"] = payment["amountPaid"]
        yield payment


def build_supplier_payments(world: World) -> Iterator[Record]:
    return _payments(world, {"PP": "PAYMENT"})
