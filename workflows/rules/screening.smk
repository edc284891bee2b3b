# Materials screening at scale (config materials.screening, off by default): the input set is
# split into shards (a checkpoint: the shard count may follow from the input size), each shard
# is scored by its own `predict` job (so a cluster runs them in parallel through the SLURM
# executor; a killed shard reruns alone), and `gather` ranks them into one table, the top-k,
# a histogram and the report section. Each rule calls one step of sciml.materials.steps.
import glob
import os

SCREENING = config["materials"]["screening"]
SCREENING_OUT = f"{RESULTS}/materials/screening"
SCREENING_SHARDS = f"{SCREENING_OUT}/shards"
SCREENING_SCORED = f"{SCREENING_OUT}/scored/{{shard}}"
SCREENING_SECTION = os.path.dirname(screening_section_file())
SCREENING_PRED = {"csv": "predictions.csv", "parquet": "predictions.parquet"}[SCREENING["format"]]
SCREENING_RANKED = {"csv": "ranked.csv", "parquet": "ranked.parquet"}[SCREENING["format"]]


if screening_enabled():
    for _key in ("input", "model_dir"):
        if not SCREENING[_key]:
            raise ValueError(f"materials.screening.{_key}: required when materials.screening.enabled is true")
    SCREENING_INPUT = os.path.join(DATA_ROOT, SCREENING["input"])
    SCREENING_MODEL = SCREENING["model_dir"]

    checkpoint screening_shard:
        input:
            data=SCREENING_INPUT,
            files=dataset_files(SCREENING_INPUT)[1:],  # a folder's files: an edit inside reruns the shards
        output:
            shards=directory(SCREENING_SHARDS),
        params:
            cfg=section_json("materials"),
        log:
            f"{RESULTS}/logs/screening_shard.log",
        benchmark:
            f"{RESULTS}/benchmarks/screening_shard.tsv"
        threads: 1  # no torch: reads records and writes gzipped shard files
        resources:
            mem_mb=2000,
            runtime=60,
        conda:
            "../envs/sciml.yaml"
        shell:
            "sciml materials shard --config-json {params.cfg} --input {input.data:q} "
            "--out-dir {output.shards:q} > {log:q} 2>&1"

    rule screening_predict:
        input:
            shard=f"{SCREENING_SHARDS}/{{shard}}.csv.gz",
            model_json=f"{SCREENING_MODEL}/model.json",
            model=f"{SCREENING_MODEL}/model.pt",
            # an ensemble's other members: retraining one alone rescores every shard
            members=sorted(glob.glob(os.path.join(SCREENING_MODEL, "model_member*.pt"))),
        output:
            predictions=f"{SCREENING_SCORED}/{SCREENING_PRED}",
            skipped=f"{SCREENING_SCORED}/skipped.csv",
            parser_warnings=f"{SCREENING_SCORED}/parser_warnings.csv",
            provenance=f"{SCREENING_SCORED}/provenance.json",
        params:
            cfg=section_json("materials"),
            model_dir=folder_param(SCREENING_MODEL),
            out_dir=SCREENING_SCORED,
            fmt=SCREENING["format"],
        wildcard_constraints:
            shard=r"shard_\d+",
        log:
            f"{RESULTS}/logs/screening_predict_{{shard}}.log",
        benchmark:
            f"{RESULTS}/benchmarks/screening_predict_{{shard}}.tsv"
        threads: MATERIALS["threads"]
        resources:
            mem_mb=3000,
            runtime=120,
        conda:
            "../envs/sciml.yaml"
        shell:
            "sciml materials predict --config-json {params.cfg} --model-dir {params.model_dir:q} "
            "--input {input.shard:q} --id-column id --format {params.fmt} --out-dir {params.out_dir:q} "
            "--threads {threads} --no-progress > {log:q} 2>&1"

    rule screening_gather:
        input:
            scored=screening_scored,
        output:
            section=screening_section_file(),
            ranked=f"{SCREENING_SECTION}/{SCREENING_RANKED}",
            top_k=f"{SCREENING_SECTION}/top_k.csv",
            skipped=f"{SCREENING_SECTION}/skipped.csv",
            summary=f"{SCREENING_SECTION}/summary.json",
            histogram=report(
                f"{SCREENING_SECTION}/histogram.png",
                caption="../../sciml/materials/captions/screening_histogram.rst",
                category="Materials",
            ),
            provenance=f"{SCREENING_SECTION}/provenance.json",
        params:
            cfg=section_json("materials"),
            shard_dirs=screening_scored_dirs,
            manifest=f"{SCREENING_SHARDS}/shards.json",
            out_dir=folder_param(SCREENING_SECTION),
        log:
            f"{RESULTS}/logs/screening_gather.log",
        benchmark:
            f"{RESULTS}/benchmarks/screening_gather.tsv"
        threads: 1  # no torch: reads the shard tables, sorts, draws the histogram
        resources:
            mem_mb=8000,
            runtime=60,
        conda:
            "../envs/sciml.yaml"
        shell:
            "sciml materials gather --config-json {params.cfg} --shard-dirs {params.shard_dirs:q} "
            "--manifest {params.manifest:q} --out-dir {params.out_dir:q} > {log:q} 2>&1"
