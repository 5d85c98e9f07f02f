"""Stock: bin locations and zones, goods-out and goods-in notes, stock corrections, movements, availability.

Goods notes share one ID sequence (goods-out, then goods-in, then stock corrections), as the goods
movements that point at them need a note ID that says which note. Stock adds up: opening-stock
corrections cover every later shipment and allocation, so stock is never negative at any moment,
and availability is the sum of the movements less what unshipped notes hold.

Choices where the reference is silent: goods-out `orderRows` quantities are JSON numbers; the
goods-in search's `onHand` is the batch's received quantity (batches are not depleted FIFO here);
`breakDownByLocation` adds a top-level `breakDownByLocation{<warehouseId>:{<locationId>:{inStock,
onHand,allocated}}}` beside `total` and `warehouses`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime, timedelta

from ..resources import Record
from ..world import HISTORY_START, World
from .catalogue import cost_price
from .history import orders
from .parties import STAFF_COUNT
from .reference import BASE_CURRENCY, LOCATIONS_PER_WAREHOUSE, PICK_FACE_LOCATIONS, WAREHOUSES, stock_location

ZONES = ["Pick face", "Bulk storage", "Returns"]
AISLES = "ABCDE"
# eventCode per goods-out step, in the order a note goes through them
STEPS = (("printed", "PRI"), ("picked", "PIC"), ("packed", "PAC"), ("shipped", "SHW"))
LOSS_REASONS = ["Cycle count", "Damaged in warehouse"]
GAIN_REASONS = ["Found in count", "Customer return restocked"]
OPENING_LINES_PER_NOTE = 50


def location_groupings(location_id: int) -> dict[str, str]:
    """Aisle, bay, shelf and bin of a location: `groupingA..D`."""
    index = location_id % 100 - 1
    return {
        "groupingA": AISLES[index // 4 % len(AISLES)],
        "groupingB": f"{index % 4 + 1:02d}",
        "groupingC": str(index % 3 + 1),
        "groupingD": f"{index % 2 + 1}",
    }


def _zone_id(location_id: int) -> int:
    index = location_id % 100
    zone = 1 if index <= PICK_FACE_LOCATIONS else (2 if index < LOCATIONS_PER_WAREHOUSE else 3)
    return location_id // 100 * 10 + zone


def build_zones(world: World) -> Iterator[Record]:
    for warehouse in WAREHOUSES:
        for number, name in enumerate(ZONES, start=1):
            yield {"id": warehouse[0] * 10 + number, "name": name, "warehouseId": warehouse[0]}


def build_locations(world: World) -> Iterator[Record]:
    for warehouse in WAREHOUSES:
        for location_id in range(warehouse[0] * 100 + 1, warehouse[0] * 100 + LOCATIONS_PER_WAREHOUSE + 1):
            yield {
                "id": location_id,
                "warehouseId": warehouse[0],
                "zoneId": _zone_id(location_id),
                **location_groupings(location_id),
                "barcode": f"LOC{location_id:05d}",
            }


def _tracked_products(world: World) -> set[int]:
    return {product["id"] for product in world.records("product") if product["stock"]["stockTracked"]}


def _next_note_id(world: World, *earlier: str) -> int:
    return max((max(world.ids(name), default=0) for name in earlier), default=0) + 1


def build_goods_out_notes(world: World) -> Iterator[Record]:
    """One note per fully allocated sales order; shipped when the order has shipped all its stock."""
    tracked = _tracked_products(world)
    note_id = 1
    for order in orders(world, "SO"):
        lines = [row for row in order.rows if row.product_id in tracked]
        if order.stock_status != "SOA" or not lines:
            continue
        created = world.moment(order.created, order.updated)
        steps = len(STEPS) if order.shipping_status == "ASS" else world.rng.randint(0, 2)
        status: Record = {}
        events = []
        moment = created
        for number, (name, code) in enumerate(STEPS):
            status[name] = number < steps
            if number < steps:
                moment = world.moment(moment, order.updated)
                staff_id = world.rng.randint(1, STAFF_COUNT)
                stamp = world.stamp(moment)
                status[f"{name}On"], status[f"{name}ById"] = stamp, staff_id
                events.append({"occured": stamp, "eventOwnerId": staff_id, "eventCode": code})
        shipping: Record = {"shippingMethodId": order.shipping_method_id}
        if status["packed"]:
            shipping["boxes"] = 1 + sum(row.quantity for row in lines) // 4
            shipping["weight"] = world.money(world.rng.uniform(0.3, 6.0))
        if status["shipped"]:
            shipping["reference"] = f"1Z{order.id:08d}{world.rng.randrange(10**6):06d}"
        created_stamp = world.stamp(created)
        yield {
            "goodsOutNoteId": note_id,
            "orderId": order.id,
            "warehouseId": order.warehouse_id,
            "transfer": False,
            "priority": world.chance(0.05),
            "status": status,
            "shipping": shipping,
            "releaseDate": created_stamp,
            "createdOn": created_stamp,
            "createdBy": order.created_by,
            "channelId": order.channel_id,
            "orderRows": {
                str(row.row_id): [
                    {
                        "productId": row.product_id,
                        "quantity": row.quantity,
                        "locationId": stock_location(order.warehouse_id, row.product_id),
                    }
                ]
                for row in lines
            },
            "sequence": 1,
            "events": events,
            "lastEventVersion": len(events),
        }
        note_id += 1


def build_goods_in_notes(world: World) -> Iterator[Record]:
    """One closed note per fully received purchase order; its stock goes to the product's pick face."""
    tracked = _tracked_products(world)
    note_id = _next_note_id(world, "goods-out-note")
    for order in orders(world, "PO"):
        lines = [row for row in order.rows if row.product_id in tracked]
        if order.stock_status != "POR" or not lines:
            continue
        received = world.moment(order.created, order.updated)
        created = world.moment(order.created, received)
        yield {
            # the search calls the note's ID `batchId`, the GET `goodsNoteId`; the map key is the former
            "batchId": note_id,
            "goodsNoteId": note_id,
            "orderId": order.id,
            "transfer": False,
            "goodsNoteStatus": "CLOSED",
            "userBatchReference": f"GRN-{order.id}",
            "createdOn": world.stamp(created),
            "receivedOn": world.stamp(received),
            "createdBy": order.created_by,
            "goodsMoved": [
                {
                    "productId": row.product_id,
                    "purchaseOrderRowId": row.row_id,
                    "quantity": row.quantity,
                    "warehouseId": order.warehouse_id,
                    "destinationLocationId": stock_location(order.warehouse_id, row.product_id),
                    "goodsNoteId": note_id,
                    "batchGoodsNoteId": note_id,
                    "productValue": {"currency": order.currency_code, "value": world.money(row.unit_cost)},
                    "cleared": True,
                    "valueConfirmed": True,
                }
                for row in lines
            ],
        }
        note_id += 1


def goods_in_lines(note: Record) -> Iterator[Record]:
    """The goods-in search's rows: one per batch line."""
    for line in note["goodsMoved"]:
        yield {
            "purchaseOrderId": note["orderId"],
            "batchId": note["batchId"],
            "userBatchRef": note["userBatchReference"],
            "productId": line["productId"],
            "locationId": line["destinationLocationId"],
            **location_groupings(line["destinationLocationId"]),
            "price": line["productValue"]["value"],
            "landedCosts": "0.0000",
            "currCode": line["productValue"]["currency"],
            "receivedQuantity": line["quantity"],
            "onHand": line["quantity"],
            "createdDate": note["createdOn"],
            "receivedDate": note["receivedOn"],
            "warehouseId": line["warehouseId"],
        }


def build_stock_corrections(world: World) -> Iterator[Record]:
    """Opening stock per tracked product and warehouse at the start of history, then a few counts."""
    outbound: dict[tuple[int, int], int] = defaultdict(int)
    for note in world.records("goods-out-note"):
        for lines in note["orderRows"].values():
            for line in lines:
                outbound[line["productId"], note["warehouseId"]] += line["quantity"]
    for product_id in sorted(_tracked_products(world)):
        outbound.setdefault((product_id, 1), 0)
    opening = {key: demand + world.rng.randint(5, 60) for key, demand in sorted(outbound.items())}
    note_id = _next_note_id(world, "goods-out-note", "goods-in-note")
    opened = HISTORY_START - timedelta(days=1)
    for warehouse_id in sorted({warehouse for _, warehouse in opening}):
        stocked = [
            (product_id, quantity) for (product_id, warehouse), quantity in opening.items() if warehouse == warehouse_id
        ]
        for start in range(0, len(stocked), OPENING_LINES_PER_NOTE):
            yield _correction(
                world, note_id, warehouse_id, opened, "Opening stock", stocked[start : start + OPENING_LINES_PER_NOTE]
            )
            note_id += 1
    keys = list(opening)
    for _ in range(world.scaled(1, 4, 150)):
        product_id, warehouse_id = world.pick(keys)
        spare = opening[product_id, warehouse_id] - outbound[product_id, warehouse_id]
        change = world.rng.randint(-min(3, spare), 5) or 1
        opening[product_id, warehouse_id] += change
        reason = world.pick(GAIN_REASONS if change > 0 else LOSS_REASONS)
        yield _correction(world, note_id, warehouse_id, world.moment(), reason, [(product_id, change)])
        note_id += 1


def _correction(
    world: World, note_id: int, warehouse_id: int, moment: datetime, reason: str, lines: list[tuple[int, int]]
) -> Record:
    return {
        "goodsNoteId": note_id,
        "warehouseId": warehouse_id,
        "reason": reason,
        "createdOn": world.stamp(moment),
        "createdById": world.rng.randint(1, STAFF_COUNT),
        "goodsMoved": [
            {
                "productId": product_id,
                "quantity": quantity,
                "locationId": stock_location(warehouse_id, product_id),
                "productValue": {"currency": BASE_CURRENCY, "value": world.money(cost_price(product_id))},
            }
            for product_id, quantity in lines
        ],
    }


def build_goods_movements(world: World) -> Iterator[Record]:
    """Every change of stock, IDs in time order: shipments (out), receipts (in) and corrections."""
    movements = []
    for note in world.records("goods-out-note"):
        if not note["status"]["shipped"]:
            continue
        for row_id, lines in note["orderRows"].items():
            for line in lines:
                movements.append(
                    {
                        "productId": line["productId"],
                        "salesOrderRowId": int(row_id),
                        "quantity": -line["quantity"],
                        "destinationLocationId": line["locationId"],
                        "warehouseId": note["warehouseId"],
                        "goodsNoteId": note["goodsOutNoteId"],
                        "productValue": world.money(cost_price(line["productId"])),
                        "currencyCode": BASE_CURRENCY,
                        "orderId": note["orderId"],
                        "isCleared": True,
                        "isQuarantine": False,
                        "goodsNoteTypeCode": "GO",
                        "updatedOn": note["status"]["shippedOn"],
                    }
                )
    for note in world.records("goods-in-note"):
        movements.extend(goods_in_movements(note))
    for note in world.records("stock-correction"):
        movements.extend(correction_movements(note))
    movements.sort(key=lambda movement: datetime.fromisoformat(movement["updatedOn"]))
    for movement_id, movement in enumerate(movements, start=1):
        yield {"goodsMovementId": movement_id, **movement}


def goods_in_movements(note: Record) -> list[Record]:
    """A goods-in note's goods movements, one a line received, without their IDs."""
    return [
        {
            **_valued_movement(
                "GI", note, line, line["warehouseId"], line["destinationLocationId"], note["receivedOn"]
            ),
            "purchaseOrderRowId": line["purchaseOrderRowId"],
            "orderId": note["orderId"],
            "batchId": note["goodsNoteId"],
        }
        for line in note["goodsMoved"]
    ]


def correction_movements(note: Record) -> list[Record]:
    """A stock correction's goods movements, one a line, without their IDs."""
    return [
        _valued_movement("SC", note, line, note["warehouseId"], line["locationId"], note["createdOn"])
        for line in note["goodsMoved"]
    ]


def _valued_movement(
    type_code: str, note: Record, line: Record, warehouse_id: int, location_id: int, updated_on: str
) -> Record:
    """The movement of a note's line that carries its own `productValue` (goods in, corrections)."""
    return {
        "productId": line["productId"],
        "quantity": line["quantity"],
        "destinationLocationId": location_id,
        "warehouseId": warehouse_id,
        "goodsNoteId": note["goodsNoteId"],
        "productValue": line["productValue"]["value"],
        "currencyCode": line["productValue"]["currency"],
        "isCleared": True,
        "isQuarantine": False,
        "goodsNoteTypeCode": type_code,
        "updatedOn": updated_on,
    }


def _figures(in_stock: int, allocated: int) -> Record:
    return {"inStock": in_stock, "onHand": in_stock - allocated, "allocated": allocated, "inTransit": 0}


def build_availability(world: World) -> Iterator[Record]:
    """Per tracked product: what the movements put in each location, less what unshipped notes hold."""
    in_stock: dict[int, dict[tuple[int, int], int]] = defaultdict(lambda: defaultdict(int))
    allocated: dict[int, dict[tuple[int, int], int]] = defaultdict(lambda: defaultdict(int))
    for movement in world.records("goods-movement"):
        place = movement["warehouseId"], movement["destinationLocationId"]
        in_stock[movement["productId"]][place] += movement["quantity"]
    for note in world.records("goods-out-note"):
        if note["status"]["shipped"]:
            continue
        for lines in note["orderRows"].values():
            for line in lines:
                allocated[line["productId"]][note["warehouseId"], line["locationId"]] += line["quantity"]
    for product_id in sorted(in_stock):
        places = in_stock[product_id]
        held = allocated[product_id]
        warehouses: dict[str, Record] = {}
        by_location: dict[str, Record] = {}
        for (warehouse_id, location_id), quantity in sorted(places.items()):
            figures = _figures(quantity, held[warehouse_id, location_id])
            total = warehouses.setdefault(str(warehouse_id), _figures(0, 0))
            for key in ("inStock", "onHand", "allocated"):
                total[key] += figures[key]
            by_location.setdefault(str(warehouse_id), {})[str(location_id)] = {
                key: figures[key] for key in ("inStock", "onHand", "allocated")
            }
        overall = _figures(
            sum(w["inStock"] for w in warehouses.values()), sum(w["allocated"] for w in warehouses.values())
        )
        yield {"productId": product_id, "total": overall, "warehouses": warehouses, "breakDownByLocation": by_location}
