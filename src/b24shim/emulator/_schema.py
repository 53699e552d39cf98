"""The four CRM entity families' fields, in both API families, and the map between them.

Where each piece comes from (see also docs/emulator.md):

- The UPPER_CASE field lists, their types, flags (read-only, multiple, immutable, required) and
  English titles are the sample answers of `crm.lead.fields`, `crm.deal.fields`,
  `crm.contact.fields` and `crm.company.fields` in the official REST documentation
  (bitrix24/b24restdocs, `api-reference/crm/{leads,deals,contacts,companies}/crm-*-fields.md`),
  checked against a recorded real `crm.lead.fields` answer (fast_bitrix24's
  `tests/real_responses/crm_lead_fields_success.py`: the same names, types and flags).
  Portal-specific user fields (`UF_CRM_...`) and parent fields (`PARENT_ID_...`) of those
  samples are left out.
- The camelCase names of `crm.item.*` are the documentation's "CRM Object Fields" page
  (`api-reference/crm/universal/object-fields.md`), which lists every item field per entity
  type. Most follow the string rule (`ASSIGNED_BY_ID` -> `assignedById`), but not all, so the
  exceptions are spelled out in `_CAMEL_EXCEPTIONS` (`STATUS_ID` -> `stageId` for leads,
  `DATE_CREATE` -> `createdTime`, `CREATED_BY_ID` -> `createdBy`, `COMPANY_TYPE` -> `typeId`,
  the five multi-fields -> `fm`, ...) and the legacy-only address parts in `_LEGACY_ONLY`.
- Value types: legacy answers give scalars as strings (`"ID": "5"`, `"OPPORTUNITY": "0.00"`,
  empty dates as `""`), `crm.item.*` answers give typed values (`"id": 5`,
  `"opportunity": 999.9`, booleans as `"Y"`/`"N"`, dates as full ISO-8601); both from the
  documentation's `crm.lead.get` and `crm.item.get` sample answers.
- User-field names (`UF_CRM_3_1747309727` <-> `ufCrm3_1747309727`) follow the conversion table
  in `api-reference/crm/universal/index.md`.

Values are stored once, typed (ints, floats, "Y"/"N", ISO strings, lists), under the UPPER_CASE
names; the multi-fields (`PHONE`, `EMAIL`, `WEB`, `IM`, `LINK`) are one list under `FM`.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping
from typing import Any

import attrs

from b24shim._php import is_numeric, to_int, to_string

__all__ = [
    "FM",
    "MULTIFIELD_TYPES",
    "SCHEMAS",
    "EntitySchema",
    "Field",
    "uf_to_camel",
    "uf_to_upper",
]

FM = "FM"
MULTIFIELD_TYPES = ("PHONE", "EMAIL", "WEB", "IM", "LINK")
_INT_TYPES = frozenset(
    {
        "integer",
        "user",
        "crm_company",
        "crm_contact",
        "crm_lead",
        "crm_quote",
        "crm_category",
        "crm_entity",
        "file",
    }
)
_DATE_TYPES = frozenset({"date", "datetime"})
_TRUE = (True, "true", "y", "Y")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")

# (UPPER_CASE name, type, flags: r read-only, m multiple, i immutable, q required, title)
_Row = tuple[str, str, str, str]


@attrs.frozen
class Field:
    """One field of an entity type.

    Attributes:
        upper: The legacy (UPPER_CASE) name.
        camel: The `crm.item.*` name, or None when the item API lacks the field.
        type: The type `crm.*.fields` reports (`char` is `boolean` in the item API).
        read_only: Ignored on write.
        multiple: A list of values.
        immutable: Written on add only.
        required: Reported as required (the emulator does not enforce it, nor does the
            item API).
        title: The English title.
    """

    upper: str
    camel: str | None
    type: str
    read_only: bool = False
    multiple: bool = False
    immutable: bool = False
    required: bool = False
    title: str = ""

    def coerce(self, value: Any) -> Any:
        """A written value in the stored (typed) form."""
        if self.multiple:
            if isinstance(value, Mapping):
                value = list(value.values())
            if not isinstance(value, (list, tuple)):
                value = [] if value in (None, "", False) else [value]
            items = [self._scalar(item) for item in value]
            return [item for item in items if item is not None]
        return self._scalar(value)

    def _scalar(self, value: Any) -> Any:
        if value is None:
            return None
        if self.type in _INT_TYPES:
            return None if value == "" else to_int(value)
        if self.type == "double":
            return float(value) if is_numeric(value) else (None if value == "" else 0.0)
        if self.type == "char":
            return "Y" if value in _TRUE else "N"
        if self.type in _DATE_TYPES:
            text = to_string(value).strip()
            if not text:
                return None
            if self.type == "date" and _DATE.match(text):
                return text[:10]
            return text
        if isinstance(value, (dict, list)):
            return value
        return to_string(value)

    def legacy(self, value: Any) -> Any:
        """The stored value as `crm.<entity>.get` shows it."""
        if self.multiple:
            return [self._legacy_scalar(item) for item in value or []]
        return self._legacy_scalar(value)

    def _legacy_scalar(self, value: Any) -> Any:
        if value is None:
            return "" if self.type in _DATE_TYPES else None
        if self.type == "double" and isinstance(value, float):
            return f"{value:.2f}"
        if self.type == "date":
            return _full_date(value)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)
        return value

    def item(self, value: Any) -> Any:
        """The stored value as `crm.item.get` shows it."""
        if self.multiple:
            return list(value or [])
        if value is not None and self.type == "date":
            return _full_date(value)
        return value

    def describe(self, *, camel: bool) -> dict[str, Any]:
        """This field as `crm.<entity>.fields` (`camel=False`) or `crm.item.fields` shows it."""
        kind = "boolean" if camel and self.type == "char" else self.type
        described: dict[str, Any] = {
            "type": kind,
            "isRequired": self.required,
            "isReadOnly": self.read_only,
            "isImmutable": self.immutable,
            "isMultiple": self.multiple,
            "isDynamic": False,
            "title": self.title,
        }
        if camel:
            described["upperName"] = self.upper
        return described


def _full_date(value: Any) -> Any:
    text = to_string(value)
    return f"{text}T00:00:00+00:00" if len(text) == 10 else text


def _string_rule(name: str) -> str:
    head, *rest = name.lower().split("_")
    return head + "".join(part.capitalize() for part in rest)


def uf_to_camel(name: str) -> str:
    """`UF_CRM_3_DIGIT` -> `ufCrm3Digit`, `UF_CRM_1747309879` -> `ufCrm_1747309879`.

    The documentation's table: underscores between digits stay, others go; a name that could
    not be converted back unambiguously (letters and digits mixed) keeps its tail as it is.
    """
    tail = name[len("UF_CRM_") :]
    parts = tail.split("_")
    if all(part.isdigit() for part in parts):
        if len(parts) == 1:
            return "ufCrm_" + tail
        return "ufCrm" + "_".join(parts)
    mixed = any(re.search(r"[A-Z]\d|\d[A-Z]", part) for part in parts)
    letters_then_digits = any(
        not left.isdigit() and right.isdigit() for left, right in itertools.pairwise(parts)
    )
    if mixed or letters_then_digits:
        return "ufCrm_" + tail
    camel = "ufCrm"
    previous_digit = False
    for part in parts:
        digit = part.isdigit()
        joiner = "_" if digit and previous_digit else ""
        camel += joiner + (part if digit else part.capitalize())
        previous_digit = digit
    return camel


def uf_to_upper(name: str) -> str:
    """The inverse of `uf_to_camel`."""
    tail = name[len("ufCrm") :]
    if tail.startswith("_"):
        return "UF_CRM_" + tail[1:]
    spaced = re.sub(r"(?<=[a-z])(?=[A-Z0-9])|(?<=\d)(?=[A-Z])", "_", tail)
    return "UF_CRM_" + spaced.upper()


# Legacy fields without a counterpart in `crm.item.*`: the address parts (the item API has
# only `address`, and `addressLegal` for companies; addresses live in requisites).
_LEGACY_ONLY = frozenset(
    {
        "ADDRESS_2",
        "ADDRESS_CITY",
        "ADDRESS_POSTAL_CODE",
        "ADDRESS_REGION",
        "ADDRESS_PROVINCE",
        "ADDRESS_COUNTRY",
        "ADDRESS_COUNTRY_CODE",
        "ADDRESS_LOC_ADDR_ID",
        "REG_ADDRESS",
        "REG_ADDRESS_2",
        "REG_ADDRESS_CITY",
        "REG_ADDRESS_POSTAL_CODE",
        "REG_ADDRESS_REGION",
        "REG_ADDRESS_PROVINCE",
        "REG_ADDRESS_COUNTRY",
        "REG_ADDRESS_COUNTRY_CODE",
        "REG_ADDRESS_LOC_ADDR_ID",
    }
)
# Names the item API does not derive by the string rule (object-fields.md, per entity type).
_COMMON_EXCEPTIONS = {
    "DATE_CREATE": "createdTime",
    "DATE_MODIFY": "updatedTime",
    "CREATED_BY_ID": "createdBy",
    "MODIFY_BY_ID": "updatedBy",
    "MOVED_BY_ID": "movedBy",
}
_CAMEL_EXCEPTIONS: dict[int, dict[str, str]] = {
    1: {**_COMMON_EXCEPTIONS, "STATUS_ID": "stageId", "STATUS_SEMANTIC_ID": "stageSemanticId"},
    2: dict(_COMMON_EXCEPTIONS),
    3: dict(_COMMON_EXCEPTIONS),
    4: {**_COMMON_EXCEPTIONS, "COMPANY_TYPE": "typeId", "CONTACT_ID": "contactIds"},
}


@attrs.frozen
class EntitySchema:
    """The fields of one entity type.

    Attributes:
        entity_type_id: 1 lead, 2 deal, 3 contact, 4 company.
        name: "lead", "deal", "contact" or "company".
        fields: Every standard field, in the order `crm.<entity>.fields` lists them.
        has_fm: Whether the type has multi-fields (deals have none).
    """

    entity_type_id: int
    name: str
    fields: tuple[Field, ...]
    has_fm: bool
    _by_upper: dict[str, Field] = attrs.field(init=False, repr=False)
    _by_camel: dict[str, Field] = attrs.field(init=False, repr=False)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "_by_upper", {field.upper: field for field in self.fields})
        by_camel = {field.camel: field for field in self.fields if field.camel is not None}
        object.__setattr__(self, "_by_camel", by_camel)

    def by_upper(self, name: str) -> Field | None:
        """The field of a legacy name."""
        return self._by_upper.get(name)

    def by_camel(self, name: str) -> Field | None:
        """The field of an item name."""
        return self._by_camel.get(name)

    def upper_of(self, name: str) -> str:
        """The stored name for a name in either family (`stageId` -> `STATUS_ID` for leads).

        Unknown names are returned as they are, user fields converted.
        """
        if name in self._by_upper:
            return name
        field = self._by_camel.get(name)
        if field is not None:
            return field.upper
        if name == "fm":
            return FM
        if name.startswith("ufCrm"):
            return uf_to_upper(name)
        return name

    def camel_of(self, upper: str) -> str:
        """The item name of a stored name."""
        field = self._by_upper.get(upper)
        if field is not None and field.camel is not None:
            return field.camel
        if upper == FM:
            return "fm"
        if upper.startswith("UF_CRM_"):
            return uf_to_camel(upper)
        return _string_rule(upper)


def _schema(entity_type_id: int, name: str, rows: tuple[_Row, ...]) -> EntitySchema:
    exceptions = _CAMEL_EXCEPTIONS[entity_type_id]
    fields = []
    has_fm = False
    for upper, kind, flags, title in rows:
        if kind == "crm_multifield":
            has_fm = True
            continue
        camel = None if upper in _LEGACY_ONLY else exceptions.get(upper, _string_rule(upper))
        fields.append(
            Field(
                upper,
                camel,
                kind,
                read_only="r" in flags,
                multiple="m" in flags,
                immutable="i" in flags,
                required="q" in flags,
                title=title,
            )
        )
    return EntitySchema(entity_type_id, name, tuple(fields), has_fm)


_LEAD_ROWS: tuple[_Row, ...] = (
    ("ID", "integer", "r", "ID"),
    ("TITLE", "string", "", "Lead Title"),
    ("HONORIFIC", "crm_status", "", "Salutation"),
    ("NAME", "string", "", "First Name"),
    ("SECOND_NAME", "string", "", "Middle Name"),
    ("LAST_NAME", "string", "", "Last Name"),
    ("BIRTHDATE", "date", "", "Birthdate"),
    ("COMPANY_TITLE", "string", "", "Company Name"),
    ("SOURCE_ID", "crm_status", "", "Source"),
    ("SOURCE_DESCRIPTION", "string", "", "Source Description"),
    ("STATUS_ID", "crm_status", "", "Stage"),
    ("STATUS_DESCRIPTION", "string", "", "Stage Description"),
    ("STATUS_SEMANTIC_ID", "string", "r", "Status Semantic"),
    ("POST", "string", "", "Position"),
    ("ADDRESS", "string", "", "Address"),
    ("ADDRESS_2", "string", "", "Address (Line 2)"),
    ("ADDRESS_CITY", "string", "", "City"),
    ("ADDRESS_POSTAL_CODE", "string", "", "Postal Code"),
    ("ADDRESS_REGION", "string", "", "Region"),
    ("ADDRESS_PROVINCE", "string", "", "Province"),
    ("ADDRESS_COUNTRY", "string", "", "Country"),
    ("ADDRESS_COUNTRY_CODE", "string", "", "Country Code"),
    ("ADDRESS_LOC_ADDR_ID", "integer", "", "Location Address ID"),
    ("CURRENCY_ID", "crm_currency", "", "Currency"),
    ("OPPORTUNITY", "double", "", "Amount"),
    ("IS_MANUAL_OPPORTUNITY", "char", "", "IS_MANUAL_OPPORTUNITY"),
    ("OPENED", "char", "", "Available to All"),
    ("COMMENTS", "string", "", "Comments"),
    ("HAS_PHONE", "char", "r", "Phone Provided"),
    ("HAS_EMAIL", "char", "r", "Email Provided"),
    ("HAS_IMOL", "char", "r", "Open Line Assigned"),
    ("ASSIGNED_BY_ID", "user", "", "Responsible User"),
    ("CREATED_BY_ID", "user", "r", "Created By"),
    ("MODIFY_BY_ID", "user", "r", "Modified By"),
    ("MOVED_BY_ID", "user", "r", "MOVED_BY_ID"),
    ("DATE_CREATE", "datetime", "r", "Creation Date"),
    ("DATE_MODIFY", "datetime", "r", "Modification Date"),
    ("MOVED_TIME", "datetime", "r", "MOVED_TIME"),
    ("COMPANY_ID", "crm_company", "", "Company"),
    ("CONTACT_ID", "crm_contact", "", "Contact"),
    ("CONTACT_IDS", "crm_contact", "m", "CONTACT_IDS"),
    ("IS_RETURN_CUSTOMER", "char", "r", "Returning Lead"),
    ("DATE_CLOSED", "datetime", "r", "Closing Date"),
    ("ORIGINATOR_ID", "string", "", "External Source"),
    ("ORIGIN_ID", "string", "", "Identifier in External Source"),
    ("UTM_SOURCE", "string", "", "Advertising System"),
    ("UTM_MEDIUM", "string", "", "Traffic Type"),
    ("UTM_CAMPAIGN", "string", "", "Campaign Identifier"),
    ("UTM_CONTENT", "string", "", "Campaign Content"),
    ("UTM_TERM", "string", "", "Campaign Search Term"),
    ("LAST_ACTIVITY_TIME", "datetime", "r", "LAST_ACTIVITY_TIME"),
    ("LAST_ACTIVITY_BY", "user", "r", "LAST_ACTIVITY_BY"),
    ("PHONE", "crm_multifield", "m", "Phone"),
    ("EMAIL", "crm_multifield", "m", "E-mail"),
    ("WEB", "crm_multifield", "m", "Website"),
    ("IM", "crm_multifield", "m", "Messenger"),
    ("LINK", "crm_multifield", "m", "LINK"),
)

_DEAL_ROWS: tuple[_Row, ...] = (
    ("ID", "integer", "r", "ID"),
    ("TITLE", "string", "", "Title"),
    ("TYPE_ID", "crm_status", "", "Type"),
    ("CATEGORY_ID", "crm_category", "i", "Sales Funnel"),
    ("STAGE_ID", "crm_status", "", "Deal Stage"),
    ("STAGE_SEMANTIC_ID", "string", "r", "Stage Group"),
    ("IS_NEW", "char", "r", "New Deal"),
    ("IS_RECURRING", "char", "", "Recurring Deal"),
    ("IS_RETURN_CUSTOMER", "char", "", "Repeat Deal"),
    ("IS_REPEATED_APPROACH", "char", "", "Repeated Approach"),
    ("PROBABILITY", "integer", "", "Probability"),
    ("CURRENCY_ID", "crm_currency", "", "Currency"),
    ("OPPORTUNITY", "double", "", "Amount"),
    ("IS_MANUAL_OPPORTUNITY", "char", "", "IS_MANUAL_OPPORTUNITY"),
    ("TAX_VALUE", "double", "", "Tax Rate"),
    ("COMPANY_ID", "crm_company", "", "Company"),
    ("CONTACT_ID", "crm_contact", "", "Contact"),
    ("CONTACT_IDS", "crm_contact", "m", "Contacts"),
    ("QUOTE_ID", "crm_quote", "r", "Estimate"),
    ("BEGINDATE", "date", "", "Start Date"),
    ("CLOSEDATE", "date", "", "Close Date"),
    ("OPENED", "char", "", "Available to All"),
    ("CLOSED", "char", "", "Closed"),
    ("COMMENTS", "string", "", "Comment"),
    ("ASSIGNED_BY_ID", "user", "", "Responsible"),
    ("CREATED_BY_ID", "user", "r", "Created By"),
    ("MODIFY_BY_ID", "user", "r", "Modified By"),
    ("MOVED_BY_ID", "user", "r", "MOVED_BY_ID"),
    ("DATE_CREATE", "datetime", "r", "Creation Date"),
    ("DATE_MODIFY", "datetime", "r", "Modification Date"),
    ("MOVED_TIME", "datetime", "r", "MOVED_TIME"),
    ("SOURCE_ID", "crm_status", "", "Source"),
    ("SOURCE_DESCRIPTION", "string", "", "Additional Info about Source"),
    ("LEAD_ID", "crm_lead", "r", "Lead"),
    ("ADDITIONAL_INFO", "string", "", "Additional Information"),
    ("LOCATION_ID", "location", "", "Location"),
    ("ORIGINATOR_ID", "string", "", "External Source"),
    ("ORIGIN_ID", "string", "", "Identifier in External Source"),
    ("UTM_SOURCE", "string", "", "Advertising System"),
    ("UTM_MEDIUM", "string", "", "Traffic Type"),
    ("UTM_CAMPAIGN", "string", "", "Campaign Identifier"),
    ("UTM_CONTENT", "string", "", "Campaign Content"),
    ("UTM_TERM", "string", "", "Campaign Search Condition"),
    ("LAST_ACTIVITY_TIME", "datetime", "r", "LAST_ACTIVITY_TIME"),
    ("LAST_ACTIVITY_BY", "user", "r", "LAST_ACTIVITY_BY"),
)

_CONTACT_ROWS: tuple[_Row, ...] = (
    ("ID", "integer", "r", "ID"),
    ("HONORIFIC", "crm_status", "", "Salutation"),
    ("NAME", "string", "q", "First Name"),
    ("SECOND_NAME", "string", "q", "Middle Name"),
    ("LAST_NAME", "string", "q", "Last Name"),
    ("PHOTO", "file", "", "Photo"),
    ("BIRTHDATE", "date", "", "Birthdate"),
    ("TYPE_ID", "crm_status", "", "Contact Type"),
    ("SOURCE_ID", "crm_status", "", "Source"),
    ("SOURCE_DESCRIPTION", "string", "", "Additional Source Information"),
    ("POST", "string", "", "Position"),
    ("ADDRESS", "string", "", "Address"),
    ("ADDRESS_2", "string", "", "Address (Line 2)"),
    ("ADDRESS_CITY", "string", "", "City"),
    ("ADDRESS_POSTAL_CODE", "string", "", "Postal Code"),
    ("ADDRESS_REGION", "string", "", "Region"),
    ("ADDRESS_PROVINCE", "string", "", "Province"),
    ("ADDRESS_COUNTRY", "string", "", "Country"),
    ("ADDRESS_COUNTRY_CODE", "string", "", "Country Code"),
    ("ADDRESS_LOC_ADDR_ID", "integer", "", "Location Address ID"),
    ("COMMENTS", "string", "", "Comment"),
    ("OPENED", "char", "", "Available to All"),
    ("EXPORT", "char", "", "Participates in Contact Export"),
    ("HAS_PHONE", "char", "r", "Phone Set"),
    ("HAS_EMAIL", "char", "r", "E-mail Set"),
    ("HAS_IMOL", "char", "r", "Open Line Set"),
    ("ASSIGNED_BY_ID", "user", "", "Responsible Person"),
    ("CREATED_BY_ID", "user", "r", "Created By"),
    ("MODIFY_BY_ID", "user", "r", "Modified By"),
    ("DATE_CREATE", "datetime", "r", "Creation Date"),
    ("DATE_MODIFY", "datetime", "r", "Modification Date"),
    ("COMPANY_ID", "crm_company", "", "Company"),
    ("COMPANY_IDS", "crm_company", "m", "COMPANY_IDS"),
    ("LEAD_ID", "crm_lead", "r", "Lead"),
    ("ORIGINATOR_ID", "string", "", "External Source"),
    ("ORIGIN_ID", "string", "", "Identifier in External Source"),
    ("ORIGIN_VERSION", "string", "", "Original Version"),
    ("UTM_SOURCE", "string", "", "Advertising System"),
    ("UTM_MEDIUM", "string", "", "Traffic Type"),
    ("UTM_CAMPAIGN", "string", "", "Campaign Identifier"),
    ("UTM_CONTENT", "string", "", "Campaign Content"),
    ("UTM_TERM", "string", "", "Campaign Search Condition"),
    ("LAST_ACTIVITY_TIME", "datetime", "r", "Last Activity"),
    ("LAST_ACTIVITY_BY", "user", "r", "Last Activity By"),
    ("PHONE", "crm_multifield", "m", "Phone"),
    ("EMAIL", "crm_multifield", "m", "E-mail"),
    ("WEB", "crm_multifield", "m", "Website"),
    ("IM", "crm_multifield", "m", "Messenger"),
    ("LINK", "crm_multifield", "m", "LINK"),
)

_COMPANY_ROWS: tuple[_Row, ...] = (
    ("ID", "integer", "r", "ID"),
    ("TITLE", "string", "q", "Company Name"),
    ("COMPANY_TYPE", "crm_status", "", "Company Type"),
    ("LOGO", "file", "", "Logo"),
    ("ADDRESS", "string", "", "Physical Address"),
    ("ADDRESS_2", "string", "", "Address (line 2)"),
    ("ADDRESS_CITY", "string", "", "City"),
    ("ADDRESS_POSTAL_CODE", "string", "", "Postal Code"),
    ("ADDRESS_REGION", "string", "", "Region"),
    ("ADDRESS_PROVINCE", "string", "", "Province"),
    ("ADDRESS_COUNTRY", "string", "", "Country"),
    ("ADDRESS_COUNTRY_CODE", "string", "", "Country Code"),
    ("ADDRESS_LOC_ADDR_ID", "integer", "", "Location Address ID"),
    ("ADDRESS_LEGAL", "string", "", "Legal Address"),
    ("REG_ADDRESS", "string", "", "Legal Address"),
    ("REG_ADDRESS_2", "string", "", "Legal Address (line 2)"),
    ("REG_ADDRESS_CITY", "string", "", "Legal Address City"),
    ("REG_ADDRESS_POSTAL_CODE", "string", "", "Legal Address Postal Code"),
    ("REG_ADDRESS_REGION", "string", "", "Legal Address Region"),
    ("REG_ADDRESS_PROVINCE", "string", "", "Legal Address Province"),
    ("REG_ADDRESS_COUNTRY", "string", "", "Legal Address Country"),
    ("REG_ADDRESS_COUNTRY_CODE", "string", "", "Legal Address Country Code"),
    ("REG_ADDRESS_LOC_ADDR_ID", "integer", "", "Legal Address Location ID"),
    ("BANKING_DETAILS", "string", "", "Banking Details"),
    ("INDUSTRY", "crm_status", "", "Industry"),
    ("EMPLOYEES", "crm_status", "", "Number of Employees"),
    ("CURRENCY_ID", "crm_currency", "", "Currency"),
    ("REVENUE", "double", "", "Annual Revenue"),
    ("OPENED", "char", "", "Available to Everyone"),
    ("COMMENTS", "string", "", "Comment"),
    ("HAS_PHONE", "char", "r", "Phone Set"),
    ("HAS_EMAIL", "char", "r", "E-mail Set"),
    ("HAS_IMOL", "char", "r", "Open Line Set"),
    ("IS_MY_COMPANY", "char", "", "My Company"),
    ("ASSIGNED_BY_ID", "user", "", "Responsible Person"),
    ("CREATED_BY_ID", "user", "r", "Created By"),
    ("MODIFY_BY_ID", "user", "r", "Modified By"),
    ("DATE_CREATE", "datetime", "r", "Creation Date"),
    ("DATE_MODIFY", "datetime", "r", "Modification Date"),
    ("CONTACT_ID", "crm_contact", "m", "Contact"),
    ("LEAD_ID", "crm_lead", "r", "Lead"),
    ("ORIGINATOR_ID", "string", "", "External Source"),
    ("ORIGIN_ID", "string", "", "Identifier in External Source"),
    ("ORIGIN_VERSION", "string", "", "Original Version"),
    ("UTM_SOURCE", "string", "", "Advertising System"),
    ("UTM_MEDIUM", "string", "", "Traffic Type"),
    ("UTM_CAMPAIGN", "string", "", "Campaign Identifier"),
    ("UTM_CONTENT", "string", "", "Campaign Content"),
    ("UTM_TERM", "string", "", "Campaign Search Term"),
    ("LAST_ACTIVITY_TIME", "datetime", "", "Last Activity Time"),
    ("LAST_ACTIVITY_BY", "user", "", "Last Activity Author"),
    ("LAST_COMMUNICATION_TIME", "string", "r", "Last Communication Date"),
    ("PHONE", "crm_multifield", "m", "Phone"),
    ("EMAIL", "crm_multifield", "m", "E-mail"),
    ("WEB", "crm_multifield", "m", "Website"),
    ("IM", "crm_multifield", "m", "Messenger"),
    ("LINK", "crm_multifield", "m", "LINK"),
)

SCHEMAS: dict[int, EntitySchema] = {
    1: _schema(1, "lead", _LEAD_ROWS),
    2: _schema(2, "deal", _DEAL_ROWS),
    3: _schema(3, "contact", _CONTACT_ROWS),
    4: _schema(4, "company", _COMPANY_ROWS),
}
