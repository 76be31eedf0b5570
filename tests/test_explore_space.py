"""Search-space parsing (Hydra grammar) and proposal validation."""

import pytest

from neuralgraph.explore.space import SearchSpaceError, fmt, parse_space
from neuralgraph.explore.validate import ProposalError, check_proposal

SPACE = {
    "training.lr_k": "tag(log, interval(1e-4, 1e-2))",
    "training.coeff": "interval(0, 10)",
    "training.batch_size": "choice(4, 8, 16)",
    "training.dal": "range(100, 501, 100)",
    "training.n_layers": "tag(int, interval(1, 4))",
    "training.n_epochs": "2",
}
PARENT = {"training.lr_k": "0.001", "training.coeff": "1.0", "training.batch_size": "8",
          "training.dal": "200", "training.n_layers": "2"}


@pytest.fixture
def space():
    return parse_space(SPACE)


def test_parse_kinds(space):
    d = space.dims
    assert d["training.lr_k"].log and d["training.lr_k"].low == pytest.approx(1e-4)
    assert d["training.coeff"].kind == "interval" and not d["training.coeff"].log
    assert d["training.batch_size"].choices == (4, 8, 16)
    assert d["training.dal"].choices == (100, 200, 300, 400, 500)
    assert d["training.n_layers"].integer
    assert space.fixed == {"training.n_epochs": "2"}
    assert "log" in space.describe()


def test_simulation_keys_cannot_be_searched():
    with pytest.raises(SearchSpaceError, match="simulation key"):
        parse_space({"simulation.n_frames": "choice(1000, 2000)"})


def test_glob_is_refused():
    with pytest.raises(SearchSpaceError, match="training.x"):
        parse_space({"training.x": "glob(*)"})


def test_unit_round_trip_on_log_scale(space):
    d = space.dims["training.lr_k"]
    assert d.to_unit(1e-3) == pytest.approx(0.5)
    assert d.from_unit(0.5) == pytest.approx(1e-3)
    assert d.from_unit(2.0) == pytest.approx(1e-2)  # clipped


def test_valid_mutation(space):
    ok = check_proposal({"lr_k": 0.002}, PARENT, space, [])
    assert ok.config["training.lr_k"] == "0.002"
    assert ok.mutation == "lr_k: 0.001 -> 0.002"
    ok = check_proposal({"training.batch_size": "16", "training.dal": 300}, PARENT, space, [])
    assert ok.changed == {"training.batch_size": "16", "training.dal": "300"}


@pytest.mark.parametrize("changes, match", [
    ({"training.lr_k": "0.001,0.002"}, "sweep syntax"),
    ({"training.lr_k": "interval(1e-4, 1e-3)"}, "sweep syntax"),
    ({"training.lr_k": "choice(0.001, 0.002)"}, "sweep syntax"),
    ({"training.dal": "range(100, 300)"}, "sweep syntax"),
    ({"training.lr_k": "${oc.env:HOME}"}, "interpolation"),
    ({"training.lr_k": 0.5}, "outside"),
    ({"training.coeff": -1}, "outside"),
    ({"training.batch_size": 12}, "outside"),
    ({"training.dal": 250}, "outside"),
    ({"training.n_layers": 2.5}, "outside"),
    ({"training.lr_k": "fast"}, "not a number"),
    ({"training.optimizer": "adam"}, "unknown key"),
    ({"simulation.n_frames": 1000}, "simulation key"),
    ({"training.lr_k": "0.001"}, "unchanged"),
    ({}, "at least one"),
    ({"training.lr_k": "[0.1"}, "does not parse"),
    ({"training.lr_k": 0.002, "training.dal": 300, "training.batch_size": 16}, "at most 2 key"),
    ({"training.lr_k": 0.002, "lr_k": 0.003}, "named twice"),
])
def test_rejections(space, changes, match):
    with pytest.raises(ProposalError, match=match):
        check_proposal(changes, PARENT, space, [])


def test_the_key_limit_is_the_callers(space):
    three = {"training.lr_k": 0.002, "training.dal": 300, "training.batch_size": 16}
    assert len(check_proposal(three, PARENT, space, [], max_keys=3).changed) == 3
    with pytest.raises(ProposalError, match="at most 1 key"):
        check_proposal({"training.lr_k": 0.002, "training.dal": 300}, PARENT, space, [], max_keys=1)


def test_nearest_legal_value():
    space = parse_space({"a": "tag(log, interval(1e-4, 1e-2))", "b": "choice(10, 20, 40)",
                         "c": "choice(adam, sgd)"})
    assert space.dims["a"].nearest(0.5) == 1e-2 and space.dims["b"].nearest(33) == 40
    assert space.dims["c"].nearest("rmsprop") is None


def test_duplicate_of_evaluated_config(space):
    done = dict(PARENT, **{"training.lr_k": "0.002"})
    with pytest.raises(ProposalError, match="already evaluated"):
        check_proposal({"training.lr_k": 2e-3}, PARENT, space, [done])


def test_upper_bound_written_differently_is_inside(space):
    assert check_proposal({"training.lr_k": "1E-2"}, PARENT, space, []).config["training.lr_k"] == "0.01"


def test_fmt_quotes_strings_that_would_change_an_override():
    assert fmt("a,b") == "'a,b'"
    assert fmt("adam") == "adam"
    assert fmt(0.00012346) == "0.0001235"
    assert fmt(True) == "true"
