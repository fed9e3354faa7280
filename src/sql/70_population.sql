-- 70_population.sql — synthetic populations (owner: runs).  See docs/runs.md.

-- Realistic FHIR patients written straight into hedis.patient / hedis.resource,
-- with ids 'gen-<seed>-<n>' (resources 'gen-<seed>-<n>-<kind><k>').  Codes are
-- drawn from the loaded value sets; clinical dates fall in the three years
-- that end at as_of.  The same (patients, seed, as_of) over the same loaded
-- value sets and libraries gives the same data.  Returns the number of
-- resources written (Patient resources included).  (C: src/runs/population.c)
CREATE FUNCTION hedis.generate_population(patients int, seed int,
                                          as_of date DEFAULT '2026-12-31')
RETURNS bigint
LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'hedis_generate_population';

CREATE FUNCTION hedis._rewrite_references(resource jsonb, new_id text, members text[],
                                          suffix text)
RETURNS jsonb
LANGUAGE c IMMUTABLE STRICT AS 'MODULE_PATHNAME', 'hedis_rewrite_references';

-- Copy each listed patient `copies` times: copy c of patient P is patient
-- 'P-copy<c>', and each of P's resources R becomes 'R-copy<c>' with its
-- references to P's resources rewritten (references to shared resources,
-- e.g. Medication, are kept).  Returns the number of resources written.
CREATE FUNCTION hedis.replicate_patients(patient_ids text[], copies int)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    c int;
    suffix text;
    missing text[];
    taken text;
    written bigint := 0;
    k bigint;
BEGIN
    IF patient_ids IS NULL OR copies IS NULL OR copies < 0 THEN
        RAISE EXCEPTION 'patient ids must not be null and copies must not be negative'
              USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT array_agg(x ORDER BY x) INTO missing
      FROM unnest(patient_ids) AS x
     WHERE NOT EXISTS (SELECT 1 FROM hedis.patient p WHERE p.fhir_id = x);
    IF missing IS NOT NULL THEN
        RAISE EXCEPTION 'patients not loaded: %', array_to_string(missing, ', ')
              USING ERRCODE = 'undefined_object';
    END IF;

    FOR c IN 1 .. copies LOOP
        suffix := '-copy' || c;
        SELECT p.fhir_id INTO taken
          FROM hedis.patient p
         WHERE p.fhir_id IN (SELECT x || suffix FROM unnest(patient_ids) AS x)
         LIMIT 1;
        IF taken IS NOT NULL THEN
            RAISE EXCEPTION 'patient "%" already exists', taken
                  USING ERRCODE = 'unique_violation',
                        HINT = 'These patients were already replicated; delete the copies first.';
        END IF;

        INSERT INTO hedis.patient (fhir_id, birth_date, gender)
        SELECT p.fhir_id || suffix, p.birth_date, p.gender
          FROM hedis.patient p
         WHERE p.fhir_id = ANY (patient_ids)
         ORDER BY p.patient_key;

        WITH src AS (
            SELECT p.patient_key AS old_key, np.patient_key AS new_key, np.fhir_id AS new_id,
                   (SELECT array_agg(r.resource_type || '/' || r.fhir_id)
                      FROM hedis.resource r WHERE r.patient_key = p.patient_key) AS members
              FROM hedis.patient p
              JOIN hedis.patient np ON np.fhir_id = p.fhir_id || suffix
             WHERE p.fhir_id = ANY (patient_ids)
        )
        INSERT INTO hedis.resource (resource_type, fhir_id, patient_ref, patient_key, codes,
                                    period_start, period_end, resource)
        SELECT r.resource_type, r.fhir_id || suffix, s.new_id, s.new_key, r.codes,
               r.period_start, r.period_end,
               hedis._rewrite_references(r.resource, r.fhir_id || suffix, s.members, suffix)
          FROM src s
          JOIN hedis.resource r ON r.patient_key = s.old_key
         ORDER BY s.new_key, r.resource_type, r.fhir_id;
        GET DIAGNOSTICS k = ROW_COUNT;
        written := written + k;
    END LOOP;
    RETURN written;
END
$$;

REVOKE EXECUTE ON FUNCTION hedis.generate_population(int, int, date),
    hedis.replicate_patients(text[], int) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION hedis.generate_population(int, int, date),
    hedis.replicate_patients(text[], int), hedis._rewrite_references(jsonb, text, text[], text)
    TO hedis_loader;
