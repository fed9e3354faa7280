-- 30_loaders.sql — loader functions (owner: foundation)
--
-- All loaders run with the privileges of the caller (SECURITY INVOKER): the
-- caller needs hedis_loader (INSERT/UPDATE on the store) and, for the *_file
-- variants, superuser or pg_read_server_files (checked by the function).
-- Every function pins its search_path.

-- Store one Library / Measure / ValueSet; true when the knowledge store
-- changed (a reload of an identical resource changes nothing).  "src" names
-- the input position for error messages ("bundle entry 3", "line 12").
CREATE FUNCTION hedis._store_knowledge(r jsonb, src text)
RETURNS boolean
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    rtype   text := r->>'resourceType';
    v_url   text := r->>'url';
    ver     text := coalesce(r->>'version', '');
    elm     jsonb;
    old     jsonb;
    ncodes  bigint;
BEGIN
    IF v_url IS NULL OR v_url = '' THEN
        RAISE EXCEPTION '%: % resource has no canonical url', src, rtype
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Library, Measure and ValueSet resources are stored by url and version.';
    END IF;

    IF rtype = 'Library' THEN
        SELECT l.resource INTO old FROM hedis.library l WHERE l.url = v_url AND l.version = ver;
        IF old IS NOT NULL AND old = r THEN
            RETURN false;
        END IF;
        BEGIN
            SELECT convert_from(decode(c->>'data', 'base64'), 'UTF8')::jsonb INTO elm
              FROM jsonb_array_elements(CASE jsonb_typeof(r->'content')
                                             WHEN 'array' THEN r->'content'
                                             ELSE '[]'::jsonb END) c
             WHERE c->>'contentType' = 'application/elm+json'
             LIMIT 1;
        EXCEPTION WHEN invalid_parameter_value OR invalid_text_representation
                    OR character_not_in_repertoire OR untranslatable_character THEN
            RAISE EXCEPTION '%: Library % has application/elm+json content that is not base64-encoded JSON',
                src, v_url
                USING ERRCODE = 'invalid_parameter_value', DETAIL = SQLERRM;
        END;
        -- refuse ELM the engine cannot evaluate now, not on the first patient
        IF elm IS NOT NULL THEN
            PERFORM hedis.check_elm(elm, src);
        END IF;
        INSERT INTO hedis.library AS l (url, version, name, resource, elm)
        VALUES (v_url, ver, r->>'name', r, elm)
        ON CONFLICT (url, version) DO UPDATE
           SET name = EXCLUDED.name, resource = EXCLUDED.resource, elm = EXCLUDED.elm,
               loaded_at = now();
        RETURN true;

    ELSIF rtype = 'Measure' THEN
        SELECT m.resource INTO old FROM hedis.measure m WHERE m.url = v_url AND m.version = ver;
        IF old IS NOT NULL AND old = r THEN
            RETURN false;
        END IF;
        INSERT INTO hedis.measure AS m (url, version, name, resource)
        VALUES (v_url, ver, r->>'name', r)
        ON CONFLICT (url, version) DO UPDATE
           SET name = EXCLUDED.name, resource = EXCLUDED.resource, loaded_at = now();
        RETURN true;

    ELSIF rtype = 'ValueSet' THEN
        SELECT v.resource INTO old FROM hedis.valueset v WHERE v.url = v_url AND v.version = ver;
        IF old IS NOT NULL AND old = r THEN
            RETURN false;
        END IF;
        IF jsonb_typeof(r->'expansion') IS DISTINCT FROM 'object'
           AND NOT jsonb_path_exists(r, '$.compose.include[*].concept[*].code') THEN
            RAISE EXCEPTION '%: ValueSet % has neither an expansion nor compose.include concepts', src, v_url
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'Load the value set with its expansion (for example from VSAC $expand).';
        END IF;
        INSERT INTO hedis.valueset AS v (url, version, name, resource)
        VALUES (v_url, ver, r->>'name', r)
        ON CONFLICT (url, version) DO UPDATE
           SET name = EXCLUDED.name, resource = EXCLUDED.resource, loaded_at = now();
        DELETE FROM hedis.valueset_code c WHERE c.valueset_url = v_url AND c.valueset_version = ver;

        IF jsonb_typeof(r->'expansion') = 'object' THEN
            -- expansion.contains, nested contains included; abstract grouping
            -- entries without a code are not members
            WITH RECURSIVE item(x) AS (
                SELECT e FROM jsonb_array_elements(
                    CASE jsonb_typeof(r->'expansion'->'contains')
                         WHEN 'array' THEN r->'expansion'->'contains' ELSE '[]'::jsonb END) e
                UNION ALL
                SELECT e FROM item, jsonb_array_elements(
                    CASE jsonb_typeof(item.x->'contains')
                         WHEN 'array' THEN item.x->'contains' ELSE '[]'::jsonb END) e
            )
            SELECT count(*) INTO ncodes FROM item
             WHERE x ? 'code' AND coalesce(x->>'system', '') = '';
            IF ncodes > 0 THEN
                RAISE EXCEPTION '%: ValueSet % has % expansion code(s) without a system', src, v_url, ncodes
                    USING ERRCODE = 'invalid_parameter_value';
            END IF;
            WITH RECURSIVE item(x) AS (
                SELECT e FROM jsonb_array_elements(
                    CASE jsonb_typeof(r->'expansion'->'contains')
                         WHEN 'array' THEN r->'expansion'->'contains' ELSE '[]'::jsonb END) e
                UNION ALL
                SELECT e FROM item, jsonb_array_elements(
                    CASE jsonb_typeof(item.x->'contains')
                         WHEN 'array' THEN item.x->'contains' ELSE '[]'::jsonb END) e
            )
            INSERT INTO hedis.valueset_code (valueset_url, valueset_version, system, code, display)
            SELECT v_url, ver, x->>'system', x->>'code', x->>'display' FROM item
             WHERE x ? 'code'
            ON CONFLICT DO NOTHING;
        ELSE
            IF EXISTS (SELECT 1 FROM jsonb_array_elements(r->'compose'->'include') inc
                        WHERE coalesce(inc->>'system', '') = '' AND inc ? 'concept') THEN
                RAISE EXCEPTION '%: ValueSet % has a compose.include with concepts but no system', src, v_url
                    USING ERRCODE = 'invalid_parameter_value';
            END IF;
            INSERT INTO hedis.valueset_code (valueset_url, valueset_version, system, code, display)
            SELECT v_url, ver, inc->>'system', c->>'code', c->>'display'
              FROM jsonb_array_elements(r->'compose'->'include') inc,
                   jsonb_array_elements(inc->'concept') c
             WHERE c ? 'code'
            ON CONFLICT DO NOTHING;
        END IF;
        RETURN true;
    ELSE
        RAISE EXCEPTION '%: % is not a knowledge resource', src, rtype
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
END
$$;

-- Replace every value set staged by a CSV load (pg_temp.hedis_valueset_stage)
-- by its staged codes; true when anything changed.
CREATE FUNCTION hedis._merge_valueset_stage()
RETURNS boolean
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    vs      record;
    changed boolean := false;
BEGIN
    FOR vs IN SELECT s.url, s.version, max(s.name) AS name
                FROM pg_temp.hedis_valueset_stage s
               GROUP BY s.url, s.version
               ORDER BY s.url, s.version
    LOOP
        IF EXISTS (SELECT 1 FROM hedis.valueset v
                    WHERE v.url = vs.url AND v.version = vs.version
                      AND v.name IS NOT DISTINCT FROM nullif(vs.name, ''))
           AND NOT EXISTS (
                (SELECT c.system, c.code FROM hedis.valueset_code c
                  WHERE c.valueset_url = vs.url AND c.valueset_version = vs.version
                 EXCEPT
                 SELECT s.system, s.code FROM pg_temp.hedis_valueset_stage s
                  WHERE s.url = vs.url AND s.version = vs.version)
                UNION ALL
                (SELECT s.system, s.code FROM pg_temp.hedis_valueset_stage s
                  WHERE s.url = vs.url AND s.version = vs.version
                 EXCEPT
                 SELECT c.system, c.code FROM hedis.valueset_code c
                  WHERE c.valueset_url = vs.url AND c.valueset_version = vs.version))
        THEN
            CONTINUE;
        END IF;

        INSERT INTO hedis.valueset AS v (url, version, name, resource)
        SELECT vs.url, vs.version, nullif(vs.name, ''),
               jsonb_strip_nulls(jsonb_build_object(
                   'resourceType', 'ValueSet',
                   'url', vs.url,
                   'version', nullif(vs.version, ''),
                   'name', nullif(vs.name, ''),
                   'status', 'active',
                   'expansion', jsonb_build_object(
                       'timestamp', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
                       'contains', (SELECT jsonb_agg(jsonb_build_object('system', d.system, 'code', d.code)
                                                     ORDER BY d.system, d.code)
                                      FROM (SELECT DISTINCT s.system, s.code
                                              FROM pg_temp.hedis_valueset_stage s
                                             WHERE s.url = vs.url AND s.version = vs.version) d))))
        ON CONFLICT (url, version) DO UPDATE
           SET name = EXCLUDED.name, resource = EXCLUDED.resource, loaded_at = now();
        DELETE FROM hedis.valueset_code c WHERE c.valueset_url = vs.url AND c.valueset_version = vs.version;
        INSERT INTO hedis.valueset_code (valueset_url, valueset_version, system, code)
        SELECT DISTINCT vs.url, vs.version, s.system, s.code
          FROM pg_temp.hedis_valueset_stage s
         WHERE s.url = vs.url AND s.version = vs.version;
        changed := true;
    END LOOP;
    RETURN changed;
END
$$;

-- patient_bundle: the bundle is one patient's record (a test case, an
-- $everything export); its Patient owns every other clinical resource in it
CREATE FUNCTION hedis.load_bundle(bundle jsonb, patient_bundle boolean DEFAULT false)
RETURNS integer
LANGUAGE c VOLATILE STRICT
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'hedis_load_bundle';
COMMENT ON FUNCTION hedis.load_bundle(jsonb, boolean) IS
    'store every resource of a FHIR Bundle; returns the number of resources stored';

CREATE FUNCTION hedis.load_ndjson(data text, OUT loaded bigint, OUT rejected bigint)
RETURNS record
LANGUAGE c VOLATILE STRICT
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'hedis_load_ndjson';
COMMENT ON FUNCTION hedis.load_ndjson(text) IS
    'load FHIR resources, one JSON object per line; bad lines go to hedis.load_error';

CREATE FUNCTION hedis.load_ndjson_file(path text, OUT loaded bigint, OUT rejected bigint)
RETURNS record
LANGUAGE c VOLATILE STRICT
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'hedis_load_ndjson_file';
COMMENT ON FUNCTION hedis.load_ndjson_file(text) IS
    'load an NDJSON file of the database server (needs pg_read_server_files)';

CREATE FUNCTION hedis.load_valueset_csv(data text, OUT loaded bigint, OUT rejected bigint)
RETURNS record
LANGUAGE c VOLATILE STRICT
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'hedis_load_valueset_csv';
COMMENT ON FUNCTION hedis.load_valueset_csv(text) IS
    'load value-set codes from CSV: value set OID/url, name, code, code system, version';

CREATE FUNCTION hedis.load_valueset_csv_file(path text, OUT loaded bigint, OUT rejected bigint)
RETURNS record
LANGUAGE c VOLATILE STRICT
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'hedis_load_valueset_csv_file';
COMMENT ON FUNCTION hedis.load_valueset_csv_file(text) IS
    'load a value-set CSV file of the database server (needs pg_read_server_files)';

REVOKE ALL ON FUNCTION hedis._store_knowledge(jsonb, text), hedis._merge_valueset_stage(),
    hedis.load_bundle(jsonb, boolean), hedis.load_ndjson(text), hedis.load_ndjson_file(text),
    hedis.load_valueset_csv(text), hedis.load_valueset_csv_file(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION hedis._store_knowledge(jsonb, text), hedis._merge_valueset_stage(),
    hedis.load_bundle(jsonb, boolean), hedis.load_ndjson(text), hedis.load_ndjson_file(text),
    hedis.load_valueset_csv(text), hedis.load_valueset_csv_file(text) TO hedis_loader;
