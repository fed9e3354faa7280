#!/usr/bin/env bash
# The demo, run inside the throwaway cluster (scripts/cluster.sh sets PGHOST
# etc. and HEDIS_ECQM).  Sections are appended by the subsystems that own them;
# keep each one self-contained and quiet except for what it wants to show.
set -euo pipefail
cd "$(dirname "$0")/.."
export PGDATABASE=${PGDATABASE:-postgres}
DB=pg_hedis_demo
PSQL=(psql -X -v ON_ERROR_STOP=1 -d "$DB")

dropdb --if-exists "$DB" >/dev/null 2>&1 || true
createdb -E UTF8 -T template0 "$DB"
"${PSQL[@]}" -q -c 'CREATE EXTENSION pg_hedis'

# ---- foundation: load the official eCQM material --------------------------
if [ -n "${HEDIS_ECQM:-}" ]; then
    echo "== loading value sets, libraries, measures and 287 test patients from $HEDIS_ECQM"
    "${PSQL[@]}" -v ecqm="$HEDIS_ECQM" <<'SQL'
\timing on
SELECT sum(hedis.load_bundle(pg_read_file(:'ecqm' || '/' || m || '/valuesets.json')::jsonb)) AS valueset_resources
  FROM pg_ls_dir(:'ecqm') m WHERE m LIKE 'CMS%';
SELECT sum(hedis.load_bundle(jsonb_build_object('resourceType', 'Bundle', 'type', 'collection',
           'entry', jsonb_build_array(jsonb_build_object('resource', pg_read_file(f)::jsonb))))) AS knowledge_resources
  FROM (SELECT :'ecqm' || '/libraries/' || l AS f FROM pg_ls_dir(:'ecqm' || '/libraries') l
        UNION ALL
        SELECT :'ecqm' || '/' || m || '/measure.json' FROM pg_ls_dir(:'ecqm') m WHERE m LIKE 'CMS%') files;
SELECT sum(hedis.load_bundle(pg_read_file(:'ecqm' || '/' || m || '/tests/' || f)::jsonb)) AS test_resources
  FROM pg_ls_dir(:'ecqm') m, pg_ls_dir(:'ecqm' || '/' || m || '/tests') f WHERE m LIKE 'CMS%';
\timing off
SELECT resource_type, count(*) AS resources, count(DISTINCT patient_key) AS patients
  FROM hedis.resource GROUP BY ROLLUP (resource_type) ORDER BY resource_type NULLS LAST;
SELECT (SELECT count(*) FROM hedis.library) AS libraries,
       (SELECT count(*) FROM hedis.measure) AS measures,
       (SELECT count(*) FROM hedis.valueset) AS valuesets,
       (SELECT count(*) FROM hedis.valueset_code) AS valueset_codes,
       (SELECT generation FROM hedis.knowledge_state) AS knowledge_generation;
SELECT name, version, url FROM hedis.measure ORDER BY name;
SQL
else
    echo "== ../shared/ecqm is absent: nothing to load"
fi

# ---- later sections (measure evaluation, population runs) go below --------
for part in scripts/demo.d/*.sh; do
    [ -f "$part" ] || continue
    echo "== $(basename "$part")"
    DEMO_DB=$DB bash "$part"
done
