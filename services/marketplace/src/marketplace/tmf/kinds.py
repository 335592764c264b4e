"""The TM Forum resources the marketplace serves, described once (TMF630 part 1 patterns).

Every resource is the same kind of thing: a JSON object with ``id``, ``href`` and ``@type``,
created with POST, listed with ``fields``, attribute filters and paging, read, merge-patched
and deleted. What differs between them — the API it belongs to, its ``@type``, the fields
its create form requires (the ``*_FVO`` schema of the official v5 specification), the
members a client may not set, its status member and values — is data, kept here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: JSON types a member may have (``date-time`` is a string checked for ISO 8601).
STRING, BOOLEAN, INTEGER, NUMBER, OBJECT, ARRAY, DATETIME = (
    "string",
    "boolean",
    "integer",
    "number",
    "object",
    "array",
    "date-time",
)


@dataclass(frozen=True)
class Api:
    """One TM Forum Open API: its number and the base path of its v5 resources."""

    number: str  # "TMF620"
    path: str  # "productCatalogManagement/v5"

    @property
    def prefix(self) -> str:
        return f"/tmf-api/{self.path}"


CATALOG = Api("TMF620", "productCatalogManagement/v5")
PARTY = Api("TMF632", "partyManagement/v5")
ORDERING = Api("TMF622", "productOrderingManagement/v5")
INVENTORY = Api("TMF637", "productInventory/v5")
APIS = (CATALOG, PARTY, ORDERING, INVENTORY)


@dataclass(frozen=True)
class Kind:
    """A resource type of one API."""

    api: Api
    name: str  # path segment and event prefix: "productOffering"
    type_name: str  # "@type" of the base class: "ProductOffering"
    required: tuple[str, ...] = ()
    #: Known members and their JSON type; members not listed are kept as they come.
    members: dict[str, str] = field(default_factory=dict)
    #: Members the server owns: a client's value is refused on create and on patch.
    read_only: tuple[str, ...] = ("id", "href")
    status_member: str | None = None
    statuses: tuple[str, ...] | None = None
    initial_status: str | None = None
    #: Operations served: create, list, retrieve, patch, delete.
    operations: tuple[str, ...] = ("create", "list", "retrieve", "patch", "delete")
    #: Set ``lastUpdate`` on every write (TMF620 catalogue resources).
    stamps_last_update: bool = False
    #: Keep the ids this kind references in the index of reference terms (migration 0003;
    #: its trigger names the same kinds), so that ``category.id=...`` is counted and paged
    #: from an index. For the read-mostly catalogue: it costs every write of the kind.
    reference_terms: bool = False

    @property
    def title(self) -> str:
        """``ProductOffering`` as used in messages and operation names."""
        return self.type_name

    def event_type(self, what: str) -> str:
        """``productOffering`` + ``Create`` -> ``ProductOfferingCreateEvent``."""
        return f"{self.type_name}{what}Event"


#: TMF620 lifecycle values (TMF620 v5 user guide, "Lifecycle status"); Launched = for sale.
LIFECYCLE = (
    "In study",
    "In design",
    "In test",
    "Active",
    "Launched",
    "Retired",
    "Obsolete",
    "Rejected",
)
CATALOG_MEMBERS = {
    "name": STRING,
    "description": STRING,
    "version": STRING,
    "validFor": OBJECT,
    "lastUpdate": DATETIME,
    "lifecycleStatus": STRING,
}


def catalog_kind(
    name: str,
    type_name: str,
    *,
    required: tuple[str, ...] = ("name",),
    members: dict[str, str],
    initial_status: str | None = "In design",
) -> Kind:
    """A TMF620 catalogue resource: the common catalogue members, the lifecycle status,
    ``lastUpdate`` stamped on every write, references kept in the index of reference terms."""
    return Kind(
        CATALOG,
        name,
        type_name,
        required=required,
        members={**CATALOG_MEMBERS, **members},
        status_member="lifecycleStatus",
        statuses=LIFECYCLE,
        initial_status=initial_status,
        stamps_last_update=True,
        reference_terms=True,
    )


PRODUCT_CATALOG = catalog_kind(
    "productCatalog",
    "ProductCatalog",
    members={"catalogType": STRING, "relatedParty": ARRAY, "category": ARRAY},
    initial_status=None,
)
CATEGORY = catalog_kind(
    "category",
    "Category",
    members={
        "isRoot": BOOLEAN,
        "parent": OBJECT,
        "productOffering": ARRAY,
        "subCategory": ARRAY,
    },
    initial_status=None,
)
PRODUCT_SPECIFICATION = catalog_kind(
    "productSpecification",
    "ProductSpecification",
    members={
        "brand": STRING,
        "isBundle": BOOLEAN,
        "productNumber": STRING,
        "category": ARRAY,
        "relatedParty": ARRAY,
        "productSpecCharacteristic": ARRAY,
        "serviceSpecification": ARRAY,
        "resourceSpecification": ARRAY,
        "attachment": ARRAY,
        "policy": ARRAY,
    },
)
PRODUCT_OFFERING = catalog_kind(
    "productOffering",
    "ProductOffering",
    members={
        "isBundle": BOOLEAN,
        "isSellable": BOOLEAN,
        "statusReason": STRING,
        "category": ARRAY,
        "channel": ARRAY,
        "productOfferingTerm": ARRAY,
        "productOfferingPrice": ARRAY,
        "productSpecification": OBJECT,
        "agreement": ARRAY,
        "attachment": ARRAY,
        "policy": ARRAY,
        # MIMs extensions (see the contract): what the offering sells, and its ODRL terms.
        "dataResource": ARRAY,
        "odrlPolicy": ARRAY,
    },
)
PRODUCT_OFFERING_PRICE = catalog_kind(
    "productOfferingPrice",
    "ProductOfferingPrice",
    required=("name", "priceType"),
    members={
        "priceType": STRING,
        "price": OBJECT,
        "percentage": NUMBER,
        "unitOfMeasure": OBJECT,
        "recurringChargePeriodType": STRING,
        "recurringChargePeriodLength": INTEGER,
        "isBundle": BOOLEAN,
        "productOfferingTerm": ARRAY,
        "tax": ARRAY,
    },
)
INDIVIDUAL = Kind(
    PARTY,
    "individual",
    "Individual",
    required=("givenName", "familyName"),
    members={
        "givenName": STRING,
        "familyName": STRING,
        "middleName": STRING,
        "name": STRING,
        "formattedName": STRING,
        "legalName": STRING,
        "title": STRING,
        "gender": STRING,
        "nationality": STRING,
        "birthDate": DATETIME,
        "contactMedium": ARRAY,
        "relatedParty": ARRAY,
        "partyCharacteristic": ARRAY,
        "externalReference": ARRAY,
        "status": STRING,
    },
    status_member="status",
    statuses=("initialized", "validated", "deceased"),
)
ORGANIZATION = Kind(
    PARTY,
    "organization",
    "Organization",
    required=("name",),
    members={
        "name": STRING,
        "tradingName": STRING,
        "nameType": STRING,
        "isLegalEntity": BOOLEAN,
        "isHeadOffice": BOOLEAN,
        "organizationType": STRING,
        "existsDuring": OBJECT,
        "contactMedium": ARRAY,
        "relatedParty": ARRAY,
        "partyCharacteristic": ARRAY,
        "externalReference": ARRAY,
        "status": STRING,
    },
    status_member="status",
    statuses=("initialized", "validated", "closed"),
)
PRODUCT_ORDER = Kind(
    ORDERING,
    "productOrder",
    "ProductOrder",
    required=("productOrderItem",),
    members={
        "productOrderItem": ARRAY,
        "relatedParty": ARRAY,
        "description": STRING,
        "category": STRING,
        "priority": STRING,
        "externalId": ARRAY,
        "note": ARRAY,
        "agreement": ARRAY,
        "billingAccount": OBJECT,
        "notificationContact": STRING,
        "orderTotalPrice": ARRAY,
        "requestedStartDate": DATETIME,
        "requestedCompletionDate": DATETIME,
        "requestedInitialState": STRING,
        "state": STRING,
        "cancellationReason": STRING,
    },
    read_only=("id", "href", "creationDate", "completionDate", "orderDate", "cancellationDate"),
    status_member="state",
    statuses=(
        "acknowledged",
        "rejected",
        "pending",
        "held",
        "inProgress",
        "cancelled",
        "completed",
        "failed",
        "partial",
        "assessingCancellation",
        "pendingCancellation",
        "draft",
    ),
    initial_status="acknowledged",
)
CANCEL_PRODUCT_ORDER = Kind(
    ORDERING,
    "cancelProductOrder",
    "CancelProductOrder",
    required=("productOrder",),
    members={
        "productOrder": OBJECT,
        "cancellationReason": STRING,
        "requestedCancellationDate": DATETIME,
    },
    read_only=("id", "href", "state", "creationDate", "effectiveCancellationDate"),
    status_member="state",
    statuses=("acknowledged", "rejected", "inProgress", "cancelled", "done", "terminatedWithError"),
    operations=("create", "list", "retrieve"),
)
PRODUCT = Kind(
    INVENTORY,
    "product",
    "Product",
    members={
        "name": STRING,
        "description": STRING,
        "status": STRING,
        "productOffering": OBJECT,
        "productCharacteristic": ARRAY,
        "relatedParty": ARRAY,
        "productOrderItem": ARRAY,
        "startDate": DATETIME,
        "terminationDate": DATETIME,
        "orderDate": DATETIME,
        "isBundle": BOOLEAN,
        "isCustomerVisible": BOOLEAN,
    },
    read_only=("id", "href", "creationDate", "productOrderItem", "productOffering", "relatedParty"),
    status_member="status",
    statuses=(
        "created",
        "pendingActive",
        "cancelled",
        "active",
        "pendingTerminate",
        "terminated",
        "suspended",
        "aborted",
    ),
    operations=("list", "retrieve", "patch"),
)

KINDS = (
    PRODUCT_CATALOG,
    CATEGORY,
    PRODUCT_SPECIFICATION,
    PRODUCT_OFFERING,
    PRODUCT_OFFERING_PRICE,
    INDIVIDUAL,
    ORGANIZATION,
    PRODUCT_ORDER,
    CANCEL_PRODUCT_ORDER,
    PRODUCT,
)
