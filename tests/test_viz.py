import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.collections import PatchCollection  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from sandbox.model.tokenizer import CharTokenizer  # noqa: E402
from sandbox.viz import NEWLINE_MARKER, SPECIAL_MARKERS, plot_curves, token_heatmap  # noqa: E402

TOK = CharTokenizer()


def token_batch() -> torch.Tensor:
    """[3, 20] real token ids: bos, a prompt and a response with newlines, eos, padding."""
    texts = ["12+3-4\n12+3=15\n#11", "7-2\n7-2=5\n#5", "40+9+1\n40+9=49\n"]
    rows = [TOK.encode(t, bos=True, eos=True)[:20] for t in texts]
    return torch.tensor([r + [TOK.pad_id] * (20 - len(r)) for r in rows])


def cells(ax: Axes) -> int:
    collections = [c for c in ax.collections if isinstance(c, PatchCollection)]
    assert len(collections) == 1
    return len(collections[0].get_paths())


def test_heatmap_of_a_random_tensor_labels_every_token():
    tokens = token_batch()
    values = torch.randn(3, 20, generator=torch.Generator().manual_seed(0))
    ax = token_heatmap(values, tokens, title="random")
    assert isinstance(ax, Axes)
    assert len(ax.texts) == 3 * 20 == cells(ax)
    labels = [t.get_text() for t in ax.texts]
    assert labels[0] == SPECIAL_MARKERS["<bos>"] and labels[1:7] == list("12+3-4")
    assert labels[7] == NEWLINE_MARKER and SPECIAL_MARKERS["<eos>"] in labels
    assert ax.get_title() == "random"
    assert len(ax.figure.axes) == 2  # the heat map and its colorbar


def test_masked_cells_are_not_drawn_and_rows_are_packed_left():
    tokens = token_batch()
    values = torch.linspace(-1, 1, 60).reshape(3, 20)
    mask = tokens != TOK.pad_id
    mask[:, :3] = False
    ax = Figure().add_subplot()
    assert token_heatmap(values, tokens, mask=mask, ax=ax) is ax
    assert len(ax.texts) == cells(ax) == int(mask.sum())
    assert min(t.get_position()[0] for t in ax.texts) == 0.5  # the first kept cell of each row
    assert ax.texts[0].get_text() == "+"  # row 0 without its first three tokens ("⊢12")


def test_rows_pick_rows_and_colours_share_one_scale_centred():
    tokens = token_batch()
    values = torch.zeros(3, 20)
    values[2, 5] = -4.0
    ax = token_heatmap(values, tokens, rows=[2, 0], center=0.0)
    assert len(ax.texts) == 2 * 20
    assert [t.get_text() for t in ax.get_yticklabels()] == ["row 2", "row 0"]
    collection = next(c for c in ax.collections if isinstance(c, PatchCollection))
    assert collection.norm.vmin == -4.0 and collection.norm.vmax == 4.0


def test_one_dimensional_values_with_a_text():
    ax = token_heatmap(torch.tensor([0.5, -0.5, 0.0, 1.0]), "3+4\n", mask=torch.tensor([True, True, False, True]))
    assert [t.get_text() for t in ax.texts] == ["3", "+", NEWLINE_MARKER]


def test_mismatched_shapes_are_a_clear_error():
    with pytest.raises(ValueError, match="shape"):
        token_heatmap(torch.zeros(3, 20), token_batch()[:, :10])
    with pytest.raises(ValueError, match="mask"):
        token_heatmap(torch.zeros(3, 20), token_batch(), mask=torch.ones(3, 19, dtype=torch.bool))
    with pytest.raises(ValueError, match="row 3"):
        token_heatmap(torch.zeros(3, 20), token_batch(), rows=[3])


def test_plot_curves_draws_one_line_per_run_skipping_dicts_without_the_metric():
    histories = {
        "a": [{"step": 0, "loss": 1.0}, {"step": 1, "loss": 0.5, "eval/accuracy": 0.2}, {"step": 3, "eval/accuracy": 0.4}],
        "b": [{"step": 1, "eval/accuracy": 0.3}],
        "c": [{"step": 0, "loss": 2.0}],
    }
    ax = plot_curves(histories, "eval/accuracy")
    assert isinstance(ax, Axes) and len(ax.lines) == 3
    assert list(ax.lines[0].get_xdata()) == [1, 3] and list(ax.lines[0].get_ydata()) == [0.2, 0.4]
    assert len(ax.lines[2].get_xdata()) == 0
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["a", "b", "c"]
    assert ax.get_ylabel() == "eval/accuracy"


def test_plot_run_legend_sits_outside_the_axes_and_covers_no_point():
    """The run plot's legend (``train``'s metrics.png, the demo's accuracy.png) is drawn below the
    axes: its box meets neither the axes nor any plotted point, even when the curves fill every
    corner (accuracy from 0 to 1 over the steps, the rollouts' from 1 to 0)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from sandbox.viz import plot_run

    history = [{"step": s, "eval/accuracy": (s + 1) / 10, "rollout/accuracy": 1 - (s + 1) / 10} for s in range(-1, 10)]
    fig = plot_run(history, "outcome-grpo from the 'tiny' warm start")
    FigureCanvasAgg(fig).draw()
    (ax,) = fig.axes
    (legend,) = fig.legends
    assert [t.get_text() for t in legend.get_texts()] == ["greedy, held-out", "accuracy of the training rollouts"]
    assert ax.get_legend() is None
    box = legend.get_window_extent()
    assert not box.overlaps(ax.get_window_extent())
    for line in ax.lines:
        for x, y in line.get_transform().transform(line.get_xydata()):
            assert not box.contains(x, y)
