"""Controlled vocabularies DCAT-AP 3.0.1 asks for, with their official URIs.

DCAT-AP 3.0.1, section 8 ("Controlled vocabularies") names the EU Vocabularies authority
tables of the Publications Office for themes (``data-theme``), file types (``file-type``),
licences (``licence``), languages (``language``), access rights (``access-right``) and
frequencies (``frequency``), and the IANA register for media types. The themes and access
rights below are the whole tables; file types, licences, languages and frequencies are the
commonly used subset of each table (the codes are those of the authority tables). A client
may write either the code (``"CSV"``) or the full URI; anything else is refused.
"""

from __future__ import annotations

from dataclasses import dataclass

EU = "http://publications.europa.eu/resource/authority/"
IANA_MEDIA = "https://www.iana.org/assignments/media-types/"


@dataclass(frozen=True, slots=True)
class Vocabulary:
    name: str
    base: str
    #: code -> English label
    terms: dict[str, str]
    #: the RDF class DCAT-AP's range shapes expect of a value
    rdf_class: str

    def uri(self, code: str) -> str:
        return self.base + code

    def code_of(self, value: str) -> str | None:
        """The code of ``value`` (a code or a URI of this vocabulary), None if unknown."""
        code = value[len(self.base) :] if value.startswith(self.base) else value
        return code if code in self.terms else None


DCT = "http://purl.org/dc/terms/"
SKOS = "http://www.w3.org/2004/02/skos/core#"

THEMES = Vocabulary(
    "data theme",
    EU + "data-theme/",
    {
        "AGRI": "Agriculture, fisheries, forestry and food",
        "ECON": "Economy and finance",
        "EDUC": "Education, culture and sport",
        "ENER": "Energy",
        "ENVI": "Environment",
        "GOVE": "Government and public sector",
        "HEAL": "Health",
        "INTR": "International issues",
        "JUST": "Justice, legal system and public safety",
        "OP_DATPRO": "Provisional data",
        "REGI": "Regions and cities",
        "SOCI": "Population and society",
        "TECH": "Science and technology",
        "TRAN": "Transport",
    },
    SKOS + "Concept",
)

FILE_TYPES = Vocabulary(
    "file type",
    EU + "file-type/",
    {
        "CSV": "CSV",
        "TSV": "TSV",
        "JSON": "JSON",
        "JSON_LD": "JSON-LD",
        "GEOJSON": "GeoJSON",
        "XML": "XML",
        "RDF_XML": "RDF/XML",
        "RDF_TURTLE": "RDF Turtle",
        "RDF_N_TRIPLES": "RDF N-Triples",
        "HTML": "HTML",
        "PDF": "PDF",
        "XLSX": "XLSX",
        "XLS": "XLS",
        "ODS": "ODS",
        "ZIP": "ZIP",
        "SHP": "ESRI Shapefile",
        "KML": "KML",
        "GML": "GML",
        "GPKG": "GeoPackage",
        "TXT": "Text",
        "PARQUET": "Parquet",
        "NETCDF": "NetCDF",
        "WMS_SRVC": "WMS",
        "WFS_SRVC": "WFS",
    },
    DCT + "MediaTypeOrExtent",
)

LICENCES = Vocabulary(
    "licence",
    EU + "licence/",
    {
        "CC0": "Creative Commons CC0 1.0 Universal",
        "CC_BY_4_0": "Creative Commons Attribution 4.0 International",
        "CC_BYSA_4_0": "Creative Commons Attribution-ShareAlike 4.0 International",
        "CC_BYND_4_0": "Creative Commons Attribution-NoDerivatives 4.0 International",
        "CC_BYNC_4_0": "Creative Commons Attribution-NonCommercial 4.0 International",
        "ODC_BY": "Open Data Commons Attribution License",
        "ODC_ODBL": "Open Data Commons Open Database License",
        "ODC_PDDL": "Open Data Commons Public Domain Dedication and License",
        "EUPL_1_2": "European Union Public Licence 1.2",
        "APACHE_2_0": "Apache License 2.0",
        "MIT": "MIT License",
        "GPL_3_0": "GNU General Public License 3.0",
        "DL_DE_BY_2_0": "Data licence Germany - attribution - version 2.0",
    },
    DCT + "LicenseDocument",
)

#: EU language code -> (English label, BCP 47 tag)
_LANGUAGES = {
    "BUL": ("Bulgarian", "bg"),
    "CAT": ("Catalan", "ca"),
    "CES": ("Czech", "cs"),
    "DAN": ("Danish", "da"),
    "DEU": ("German", "de"),
    "ELL": ("Greek", "el"),
    "ENG": ("English", "en"),
    "EST": ("Estonian", "et"),
    "EUS": ("Basque", "eu"),
    "FIN": ("Finnish", "fi"),
    "FRA": ("French", "fr"),
    "GLE": ("Irish", "ga"),
    "GLG": ("Galician", "gl"),
    "HRV": ("Croatian", "hr"),
    "HUN": ("Hungarian", "hu"),
    "ITA": ("Italian", "it"),
    "LAV": ("Latvian", "lv"),
    "LIT": ("Lithuanian", "lt"),
    "MLT": ("Maltese", "mt"),
    "NLD": ("Dutch", "nl"),
    "NOR": ("Norwegian", "no"),
    "POL": ("Polish", "pl"),
    "POR": ("Portuguese", "pt"),
    "RON": ("Romanian", "ro"),
    "SLK": ("Slovak", "sk"),
    "SLV": ("Slovenian", "sl"),
    "SPA": ("Spanish", "es"),
    "SWE": ("Swedish", "sv"),
}
LANGUAGES = Vocabulary(
    "language",
    EU + "language/",
    {code: label for code, (label, _) in _LANGUAGES.items()},
    DCT + "LinguisticSystem",
)
BCP47_OF_LANGUAGE = {code: tag for code, (_, tag) in _LANGUAGES.items()}

ACCESS_RIGHTS = Vocabulary(
    "access right",
    EU + "access-right/",
    {"PUBLIC": "Public", "RESTRICTED": "Restricted", "NON_PUBLIC": "Non-public"},
    DCT + "RightsStatement",
)

FREQUENCIES = Vocabulary(
    "frequency",
    EU + "frequency/",
    {
        "UPDATE_CONT": "Continuously updated",
        "DAILY": "Daily",
        "WEEKLY": "Weekly",
        "MONTHLY": "Monthly",
        "QUARTERLY": "Quarterly",
        "ANNUAL": "Annual",
        "IRREG": "Irregular",
        "NEVER": "Never",
        "UNKNOWN": "Unknown",
    },
    DCT + "Frequency",
)

VOCABULARIES = {
    "data-theme": THEMES,
    "file-type": FILE_TYPES,
    "licence": LICENCES,
    "language": LANGUAGES,
    "access-right": ACCESS_RIGHTS,
    "frequency": FREQUENCIES,
}

#: The Minimal Interoperability Mechanisms a digital tool can conform to (OASC MIMs Plus).
MIMS = {
    "MIM1": "Context Information Management",
    "MIM2": "Shared Data Models",
    "MIM3": "Ecosystem Transactions Management",
    "MIM4": "Personal Data Management",
    "MIM5": "Fair and Transparent Artificial Intelligence",
    "MIM6": "Security Management",
    "MIM7": "Geospatial Information Management",
}

#: The standards a distribution of broker data conforms to.
NGSI_LD_STANDARD = "https://www.etsi.org/deliver/etsi_gs/CIM/001_099/009/01.08.01_60/"
