"""Crystal files as users bring them from ICSD, COD, VASP runs and ASE: a VASP 4 POSCAR with no element
names, an extxyz/.traj whose energy ASE files under the calculator, an id with a dot beside another id's
file, a CIF whose space-group symbol the parser does not know, targets <= 0 with train.log_target. Each
is read as the file says or refused with its reason, never silently altered."""

import json

import numpy as np
import pytest

from sciml.materials.dataset import build_table
from sciml.materials.graphs import GraphSettings
from sciml.materials.readers import read_ase, read_records

NACL_CIF = """data_nacl
_cell_length_a 5.64
_cell_length_b 5.64
_cell_length_c 5.64
_cell_angle_alpha 90
_cell_angle_beta 90
_cell_angle_gamma 90
_symmetry_space_group_name_H-M 'F m -3 m'
_symmetry_Int_Tables_number 225
loop_
_atom_site_label
_atom_site_type_symbol
_atom_site_fract_x
_atom_site_fract_y
_atom_site_fract_z
Na1 Na 0 0 0
Cl1 Cl 0.5 0.5 0.5
"""

NACL_POSCAR5 = """NaCl
1.0
5.64 0 0
0 5.64 0
0 0 5.64
Na Cl
4 4
Direct
0 0 0
0 0.5 0.5
0.5 0 0.5
0.5 0.5 0
0.5 0.5 0.5
0.5 0 0
0 0.5 0
0 0 0.5
"""


def _table(folder):
    return build_table(read_records(folder), GraphSettings(6.0, 12))


def _nacl_folder(folder, id_prop: str):
    """A folder dataset of three NaCl cells s1-s3 with ``id_prop`` as its id_prop.csv: (table, {id: (line, why)})."""
    for i in (1, 2, 3):
        (folder / f"s{i}.cif").write_text(NACL_CIF.replace("5.64", f"5.6{i}"))
    (folder / "id_prop.csv").write_text(id_prop)
    table = _table(folder)
    return table, {rid: (line, why) for rid, line, why in table.quarantine}


def test_a_vasp4_poscar_without_element_names_is_quarantined_not_read_as_h_and_he(tmp_path):
    lines = NACL_POSCAR5.splitlines()
    (tmp_path / "run42.vasp").write_text("\n".join(lines[:5] + lines[6:]) + "\n")  # no 'Na Cl' line
    (tmp_path / "ok.vasp").write_text(NACL_POSCAR5)
    (tmp_path / "id_prop.csv").write_text("run42,1.0\nok,2.0\n")
    table = _table(tmp_path)
    assert table.ids == ["ok"]
    reason = {rid: why for rid, _, why in table.quarantine}["run42"]
    assert "names no elements" in reason and "VASP 4" in reason


def test_an_extxyz_energy_filed_by_ase_under_the_calculator_is_the_target(tmp_path):
    frames = "".join(
        f'1\nLattice="0.0 {a} {a} {a} 0.0 {a} {a} {a} 0.0" Properties=species:S:1:pos:R:3 energy={e} pbc="T T T"\n'
        f"Cu 0.0 0.0 0.0\n" for a, e in ((1.75, -3.0), (1.8, -4.0)))
    path = tmp_path / "relax.extxyz"
    path.write_text(frames)
    records = list(read_ase(path, target_column="energy"))
    assert [r.target for r in records] == [-3.0, -4.0] and all(r.target_note is None for r in records)
    missing = list(read_ase(path, target_column="band_gap"))
    assert np.isnan(missing[0].target) and "calculator results" in missing[0].target_note
    assert "energy" in missing[0].target_note  # the keys the frame does have


def test_an_ase_trajectory_energy_is_the_target(tmp_path):
    from ase.build import bulk
    from ase.calculators.singlepoint import SinglePointCalculator
    from ase.io import write

    frames = []
    for a, e in ((3.6, -3.5), (3.7, -3.7)):
        atoms = bulk("Cu", "fcc", a=a)
        atoms.calc = SinglePointCalculator(atoms, energy=e)
        frames.append(atoms)
    write(tmp_path / "run.traj", frames)
    assert [r.target for r in read_ase(tmp_path / "run.traj", target_column="energy")] == [-3.5, -3.7]


def test_an_id_with_a_dot_does_not_take_another_id_s_file(tmp_path):
    """'s1.relaxed' is not s1.cif; 's1.cif' names s1.cif, but s1's record already uses it: both refused,
    named, instead of three records (with three targets) of one structure."""
    (tmp_path / "s1.cif").write_text(NACL_CIF)
    (tmp_path / "id_prop.csv").write_text("s1,1.0\ns1.relaxed,2.0\ns1.cif,3.0\n")
    table = _table(tmp_path)
    assert table.ids == ["s1"]
    text = json.dumps(table.quarantine)
    assert "no structure file for id 's1.relaxed'" in text
    assert "duplicate: structure file s1.cif is already the record of id 's1'" in text


def test_a_cif_whose_space_group_symbol_the_parser_does_not_know_is_refused_not_read_as_p1(tmp_path):
    """'Fm3m' (no minus, no spaces) with no number and no symmetry operations: pymatgen falls back to P1 and
    keeps the 2 listed atoms of NaCl's 8. Refused with the symbol; the same file with the number reads 8."""
    bad = NACL_CIF.replace("'F m -3 m'", "'Fm3m'").replace("_symmetry_Int_Tables_number 225\n", "")
    (tmp_path / "a.cif").write_text(bad)
    (tmp_path / "b.cif").write_text(NACL_CIF.replace("'F m -3 m'", "'Fm3m'"))  # the number rescues it
    (tmp_path / "p1.cif").write_text(NACL_CIF.replace("'F m -3 m'", "'P 1'").replace("225", "1"))
    (tmp_path / "id_prop.csv").write_text("a,1.0\nb,2.0\np1,3.0\n")
    records = {r.id: r for r in read_records(tmp_path)}
    assert records["a"].structure is None and "space group 'Fm3m' is not recognised" in records["a"].error
    assert len(records["b"].structure) == 8 and len(records["p1"].structure) == 2


def test_targets_below_zero_with_log_target_are_named_by_prepare_and_left_out_of_training(tmp_path):
    from sciml.materials.steps.prepare import target_checks
    from sciml.materials.steps.train import without_nonpositive

    cfg = {"dataset": {"task": "regression"}, "train": {"log_target": True}}
    y = np.array([1.0, 2.0, -3.0, 4.0, 0.0, 5.0])
    ids = [f"r{i}" for i in range(6)]
    warnings = target_checks(cfg, y, tmp_path / "data.csv", {}, 6, ids=ids)["warnings"]
    assert any("2 of 6 records have a target <= 0 (first: r2 = -3, r4 = 0)" in w for w in warnings), warnings
    assert "warnings" not in target_checks({**cfg, "train": {"log_target": False}}, y, tmp_path, {}, 6, ids=ids)
    split = {"fit": np.array([0, 1, 2]), "val": np.array([3, 4]), "test": np.array([5])}
    kept, dropped = without_nonpositive(split, y, ids)
    assert kept["fit"].tolist() == [0, 1] and kept["val"].tolist() == [3] and kept["test"].tolist() == [5]
    assert dropped == ["r2", "r4"]


def test_a_poscar_whose_counts_disagree_with_its_lines_is_refused(tmp_path):
    """pymatgen reads the counts' number of coordinate lines and pairs symbols with counts up to the shorter:
    3 coordinate lines under counts '1 1' became 2 atoms, 'Na Cl K' over '4 4' became Na4Cl4, silently."""
    (tmp_path / "extra.vasp").write_text("x\n1.0\n5.64 0 0\n0 5.64 0\n0 0 5.64\nNa Cl\n1 1\nDirect\n"
                                         "0 0 0\n0.5 0.5 0.5\n0.25 0.25 0.25\n")
    (tmp_path / "mism.vasp").write_text(NACL_POSCAR5.replace("Na Cl\n", "Na Cl K\n"))
    sd = NACL_POSCAR5.replace("Direct\n", "Selective dynamics\nDirect\n").splitlines()
    sd = sd[:9] + [line + " T T F" for line in sd[9:]]
    (tmp_path / "sd.vasp").write_text("\n".join(sd) + "\n\n0 0 0\n" * 1)  # a velocity block after a blank line
    (tmp_path / "ok.vasp").write_text(NACL_POSCAR5)
    (tmp_path / "id_prop.csv").write_text("extra,1\nmism,2\nsd,3\nok,4\n")
    records = {r.id: r for r in read_records(tmp_path)}
    assert "3 coordinate lines but its counts add up to 2 atoms" in records["extra"].error
    assert "names 3 elements (Na Cl K) but gives 2 counts" in records["mism"].error
    assert len(records["sd"].structure) == 8 and len(records["ok"].structure) == 8


def test_a_cif_with_a_second_block_that_does_not_parse_is_not_read_as_the_first_alone(tmp_path):
    broken = NACL_CIF.replace("data_nacl", "data_second").replace("Na1 Na 0 0 0", "Na1 Na 0 zero 0")
    (tmp_path / "gb.cif").write_text(NACL_CIF + "\n" + broken)
    (tmp_path / "pub.cif").write_text("data_global\n_journal_name_full 'J. Test'\n\n" + NACL_CIF)
    (tmp_path / "id_prop.csv").write_text("gb,1\npub,2\n")
    records = {r.id: r for r in read_records(tmp_path)}
    assert records["gb"].structure is None and "2 data blocks with atoms (nacl, second)" in records["gb"].error
    assert len(records["pub"].structure) == 8  # a publication block without atoms is no second structure


def test_id_prop_first_row_with_a_bad_target_is_a_record_and_extra_fields_are_not_dropped(tmp_path):
    """A first row 's1,' was taken for a header, and s1.cif then reported as having no row; a later
    's3,1,5' (a decimal comma) was read as 1.0; a three-column id_prop.csv silently used its second."""
    table, reasons = _nacl_folder(tmp_path, "s1,\ns2,2.0\ns3,1,5\n")
    assert table.ids == ["s2"]
    assert reasons["s1"] == (1, "bad_target: target is empty (must be a finite number)")
    assert reasons["s3"][0] == 3 and "'1,5' is not a number" in reasons["s3"][1]
    (tmp_path / "id_prop.csv").write_text("id,gap,energy\ns1,1.0,-5\n")
    from sciml.errors import DataError

    with pytest.raises(DataError, match=r"id_prop.csv \(record line 1\).*3 fields.*two, 'id,target'"):
        _table(tmp_path)
    (tmp_path / "id_prop.csv").write_text("material_id,band_gap\ns1,1.0\ns2,2.0\ns3,3.0\n")  # a real header
    assert _table(tmp_path).ids == ["s1", "s2", "s3"]


def test_a_poscar_whose_comment_starts_with_data_is_read_as_a_poscar_in_every_path():
    """Text-only paths (screening shards) told CIF from POSCAR by a leading 'data_': a POSCAR whose comment
    line is 'data_run7' became 'Invalid CIF'."""
    from sciml.materials.readers import parse_structure

    assert len(parse_structure("data_run7\n" + NACL_POSCAR5.split("\n", 1)[1])) == 8
    assert len(parse_structure(NACL_CIF)) == 8


def _cu_frame(rid: str, extra: str = "", pbc: str = "T T T") -> str:
    a = 1.8
    return (f'1\nLattice="0.0 {a} {a} {a} 0.0 {a} {a} {a} 0.0" Properties=species:S:1:pos:R:3 id={rid} {extra} '
            f'pbc="{pbc}"\nCu 0.0 0.0 0.0\n')


def test_extxyz_ids_are_the_text_written_and_screening_shards_frames_with_numeric_info(tmp_path):
    """ASE converts key=value by its look: id=007 became 7, 1e3 became 1000.0, T became True, so predictions no
    longer joined the user's table; an integer info value (spacegroup=12, step=3) crashed the shard step
    (numpy int64 in the structure's JSON)."""
    from sciml.materials.readers import iter_structure_items, parse_structure

    path = tmp_path / "frames.extxyz"
    path.write_text(_cu_frame("007", "spacegroup=225") + _cu_frame('"1e3"', "step=3") + _cu_frame("T")
                    + _cu_frame('"two words"'))
    assert [r.id for r in read_ase(path)] == ["007", "1e3", "T", "two words"]
    items = list(iter_structure_items(path))
    assert [i[0] for i in items] == ["007", "1e3", "T", "two words"] and all(i[3] is None for i in items)
    assert parse_structure(items[0][1]).composition.reduced_formula == "Cu"


def test_a_frame_periodic_in_no_direction_is_no_crystal(tmp_path):
    """A molecule in a box (pbc="F F F") was scored as a cluster among the crystals, unsaid."""
    path = tmp_path / "mixed.extxyz"
    path.write_text(_cu_frame("crystal") + _cu_frame("molecule", pbc="F F F") + _cu_frame("slab", pbc="T T F"))
    records = {r.id: r for r in read_ase(path)}
    assert records["crystal"].error is None and records["slab"].error is None
    assert "periodic in no direction" in records["molecule"].error and records["molecule"].structure is None


def test_a_missing_value_written_as_text_is_named_and_a_bad_manifest_is_a_data_error(tmp_path):
    from sciml.errors import DataError
    from sciml.materials.readers import parse_structure
    from sciml.materials.steps.gather import gather
    from tests.materials.conftest import tiny_config

    with pytest.raises(ValueError, match=r"missing structure \('NaN'\)"):
        parse_structure("NaN")
    for content, why in (("[1, 2]", "must be a JSON object"), ('{"warnings": []}', "not a shard manifest")):
        manifest = tmp_path / "shards.json"
        manifest.write_text(content)
        with pytest.raises(DataError, match=why):
            gather(tiny_config(), [], tmp_path / "out", manifest=manifest)


def test_true_or_false_in_a_regression_target_is_quarantined_and_a_label_in_a_classification(tmp_path):
    """`TRUE` in a bulk-modulus column was trained and scored as 1.0 GPa, without a word; a classification's
    labels stay labels, also in an id_prop.csv whose first row is one (no header taken)."""
    from sciml.materials.dataset import CLASS_LABELS

    table, reasons = _nacl_folder(tmp_path, "s1,TRUE\ns2,2.0\ns3,false\n")
    assert table.ids == ["s2"]
    assert reasons["s1"] == (1, "bad_target: target 'TRUE' is a yes/no label, not a number (a regression target "
                                "must be a finite number; a yes/no property is materials.dataset.task: classification)")
    assert np.isnan(table.all_y[0]) and reasons["s3"][0] == 3  # no number to score a fallback against
    (tmp_path / "id_prop.csv").write_text("s1,true\ns2,0\ns3,false\n")
    labels = build_table(read_records(tmp_path), GraphSettings(6.0, 12), transform=CLASS_LABELS)
    assert labels.ids == ["s1", "s2", "s3"] and labels.y.tolist() == [1.0, 0.0, 0.0]


def test_an_infinite_target_is_named_as_written_and_log10_beside_log_target_is_refused(tmp_path):
    """With transform: log10, '-inf' was quarantined as 'target is nan'; log10 and train.log_target together fitted
    ln(log10 y) and dropped every record with y <= 1 from training."""
    from sciml.errors import ConfigError
    from sciml.materials.dataset import check_task

    for i in (1, 2):
        (tmp_path / f"s{i}.cif").write_text(NACL_CIF.replace("5.64", f"5.6{i}"))
    (tmp_path / "id_prop.csv").write_text("s1,-inf\ns2,20\n")
    table = build_table(read_records(tmp_path), GraphSettings(6.0, 12), transform="log10")
    assert [tuple(q) for q in table.quarantine] == [("s1", 1, "bad_target: target is -inf (must be a finite number)")]
    with pytest.raises(ConfigError, match="double log") as err:
        check_task({"dataset": {"task": "regression", "transform": "log10"}, "train": {"log_target": True}})
    assert err.value.key == "materials.train.log_target"
    check_task({"dataset": {"task": "regression", "transform": "none"}, "train": {"log_target": True}})


def test_deuterium_is_read_as_hydrogen_with_a_parser_warning_and_garbage_is_named_unrecognised():
    from sciml.materials.readers import parse_structure

    poscar = "LiD\n1.0\n4 0 0\n0 4 0\n0 0 4\nLi D\n1 1\nDirect\n0 0 0\n0.5 0.5 0.5\n"
    issues: list[str] = []
    structure = parse_structure(poscar, "auto", issues)
    assert structure.composition.reduced_formula == "LiH"
    assert issues == ["D read as hydrogen (Z = 1): the graph has no isotopes"]
    plain: list[str] = []
    parse_structure(poscar.replace(" D", " H").replace("LiD", "LiH"), "auto", plain)
    assert plain == []
    with pytest.raises(ValueError, match="not recognised as a pymatgen dict, CIF or POSCAR"):
        parse_structure("this is no crystal\nat all", "auto")


def test_a_structure_written_twice_is_warned_about_with_its_targets(tmp_path):
    """The same crystal under two ids (sites reordered, origin shifted) with targets 100 apart was kept without a
    word: it lands in training and test folds alike, and the model cannot tell the two apart."""
    from sciml.materials.dataset import repeated_structures, repeated_structures_warning

    lines = NACL_POSCAR5.splitlines()
    coords = [[float(v) for v in line.split()] for line in lines[8:]]
    moved = [" ".join(f"{(v + 0.1) % 1:.6f}" for v in xyz) for xyz in coords[4:] + coords[:4]]  # Cl first, shifted
    shifted = "\n".join(lines[:5] + ["Cl Na", "4 4", "Direct"] + moved) + "\n"
    (tmp_path / "a.vasp").write_text(NACL_POSCAR5)
    (tmp_path / "b.vasp").write_text(NACL_POSCAR5.replace("5.64", "5.70"))  # another lattice: another graph
    (tmp_path / "c.vasp").write_text(shifted)
    (tmp_path / "id_prop.csv").write_text("a,10\nb,20\nc,110\n")
    table = _table(tmp_path)
    assert repeated_structures(table) == [[0, 2]]
    warning = repeated_structures_warning(table, "none")
    assert warning.startswith("1 records have the graph of another record") and "1 of them with another target" in warning
    assert "first: a = 10, c = 110" in warning
    (tmp_path / "c.vasp").write_text(NACL_POSCAR5.replace("5.64", "5.80"))
    assert repeated_structures_warning(_table(tmp_path), "none") is None


def test_selective_dynamics_flags_and_authors_are_no_tritium():
    """The first isotope check scanned the whole text: a POSCAR's selective-dynamics 'T T F' flags beside an H atom
    read as tritium."""
    from sciml.materials.readers import parse_structure

    poscar = ("LiH\n1.0\n4 0 0\n0 4 0\n0 0 4\nLi H\n1 1\nSelective dynamics\nDirect\n"
              "0 0 0 T T F\n0.5 0.5 0.5 T T T\n")
    issues: list[str] = []
    parse_structure(poscar, "auto", issues)
    assert issues == []
    cif = NACL_CIF.replace("Cl1 Cl 0.5 0.5 0.5", "D1 D 0.5 0.5 0.5").replace("data_nacl", "data_nad\n_publ_author_name 'Smith, T.'")
    issues = []
    parse_structure(cif, "auto", issues)
    assert [i for i in issues if "hydrogen" in i] == ["D read as hydrogen (Z = 1): the graph has no isotopes"]
    issues = []
    parse_structure(NACL_CIF.replace("Cl1 Cl", "H1 H").replace("data_nacl", "data_nah\n_publ_author_name 'Smith, T.'"),
                    "auto", issues)
    assert not [i for i in issues if "hydrogen" in i]  # an author's initial is no tritium
