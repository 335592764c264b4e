"""The tool's DCAT-AP shapes load into pySHACL whatever the catalogue holds."""

from __future__ import annotations

from rdflib import Graph

from mims_check.catalogue import validate


def test_a_data_service_is_validated_not_refused_by_the_shapes_graph() -> None:
    # Upstream links DataServiceShape to property shapes it does not define; a catalogue
    # that publishes a data service (ours publishes the broker) must still be checked.
    g = Graph()
    g.parse(
        data="""
        @prefix dcat: <http://www.w3.org/ns/dcat#> . @prefix dct: <http://purl.org/dc/terms/> .
        <http://x/s> a dcat:DataService ; dct:title "Broker"@en ;
            dcat:endpointURL <http://x/ngsi-ld/v1> .
        <http://x/bad> a dcat:DataService .
        """,
        format="turtle",
    )
    found = validate(g)
    assert found  # the service without title and endpoint breaks the rules
    assert all("http://x/s" not in m for m in found)
