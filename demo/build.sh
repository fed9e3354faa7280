#!/usr/bin/env bash
# Regenerate demo/library.json, the FHIR Library of the demo measure, from
# demo/DemoWellness.cql (text/cql) and demo/DemoWellness.elm.json
# (application/elm+json, hand-written ELM).  Its dataRequirement lists each
# retrieve of the ELM (type + value set), as published measure libraries do.
#
# Run it after editing either file and commit the result with them:
# `make demo` loads the committed library.json and needs neither jq nor this
# script.  Needs jq and base64 (coreutils).
set -euo pipefail
cd "$(dirname "$0")"

jq -e '.library.identifier.id == "DemoWellness"' DemoWellness.elm.json >/dev/null

cql_b64=$(base64 -w0 DemoWellness.cql)
elm_b64=$(jq -c . DemoWellness.elm.json | base64 -w0)

jq --arg cql "$cql_b64" --arg elm "$elm_b64" '
  .library as $lib
  | ($lib.valueSets.def | map({key: .name, value: .id}) | from_entries) as $vs
  | {
      resourceType: "Library",
      id: "DemoWellness",
      url: "http://pg-hedis.example.org/fhir/Library/DemoWellness",
      version: $lib.identifier.version,
      name: "DemoWellness",
      title: "DEMO - pg_hedis Demo: Adult Annual Wellness Visit (logic library)",
      status: "draft",
      experimental: true,
      type: {coding: [{system: "http://terminology.hl7.org/CodeSystem/library-type",
                       code: "logic-library"}]},
      publisher: "pg_hedis team (demo)",
      description: ("DEMO ONLY. Logic of the pg_hedis demo measure, written by the pg_hedis team "
                    + "to show the extension at work. Not a CMS eCQM nor an NCQA HEDIS measure; "
                    + "no clinical or reporting meaning. ELM written by hand from the CQL source."),
      parameter: [
        {name: "Measurement Period", use: "in", min: 0, max: "1", type: "Period"},
        {name: "Numerator", use: "out", min: 0, max: "1", type: "boolean"},
        {name: "Denominator", use: "out", min: 0, max: "1", type: "boolean"},
        {name: "Initial Population", use: "out", min: 0, max: "1", type: "boolean"},
        {name: "Denominator Exclusions", use: "out", min: 0, max: "1", type: "boolean"},
        {name: "Age Band", use: "out", min: 0, max: "1", type: "string"},
        {name: "SDE Sex", use: "out", min: 0, max: "1", type: "string"}
      ],
      dataRequirement: (
        [{type: "Patient",
          profile: ["http://hl7.org/fhir/StructureDefinition/Patient"]}]
        + [ $lib.statements.def[] | .. | objects
            | select(.type == "Retrieve" and .codes.type? == "ValueSetRef")
            | {type: (.dataType | sub("^\\{[^}]*\\}"; "")),
               profile: [.templateId],
               codeFilter: [{path: .codeProperty, valueSet: $vs[.codes.name]}]} ]
        | unique_by([.type, (.codeFilter // [] | map(.valueSet))])),
      content: [
        {contentType: "text/cql", data: $cql},
        {contentType: "application/elm+json", data: $elm}
      ]
    }' DemoWellness.elm.json > library.json.tmp
mv library.json.tmp library.json
echo "demo/library.json: $(jq '.dataRequirement | length' library.json) data requirements, $(wc -c < library.json) bytes"
