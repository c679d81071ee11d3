import matplotlib

matplotlib.use("Agg")

from matplotlib.axes import Axes  # noqa: E402
from matplotlib.collections import LineCollection, PathCollection  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from toy_envs import TreePuzzle, explicit_tree  # noqa: E402
from toy_envs.draw import draw_tree_puzzle, hierarchical_layout, path_nodes, path_ops  # noqa: E402


def drawn_node_count(ax: Axes) -> int:
    return sum(len(c.get_offsets()) for c in ax.collections if isinstance(c, PathCollection))


def test_draws_every_node_and_edge():
    task = TreePuzzle(depth=3, branching=2)
    problem = task.problem(0)
    ax = draw_tree_puzzle(task, problem)
    assert isinstance(ax, Axes)
    n_nodes = 1 + 2 + 4 + 8
    assert drawn_node_count(ax) == n_nodes
    edges = [c for c in ax.collections if isinstance(c, LineCollection)]
    assert sum(len(c.get_segments()) for c in edges) == n_nodes - 1
    assert sum(text.get_text() == str(problem.start) for text in ax.texts) >= 1


def test_draws_on_a_given_axes_with_a_highlighted_path():
    task = TreePuzzle(depth=2, branching=3)
    problem = task.problem(1)
    ax = Figure().add_subplot()
    assert draw_tree_puzzle(task, problem, path=task.gold_solution(problem), ax=ax) is ax
    assert drawn_node_count(ax) == 1 + 3 + 9
    as_strings = ["".join(map(str, op)) for op in problem.gold_path]
    assert path_ops(as_strings) == path_ops(task.gold_solution(problem)) == problem.gold_path
    draw_tree_puzzle(task, problem, path=as_strings, ax=Figure().add_subplot())


def test_path_stops_where_it_leaves_the_tree():
    task = TreePuzzle(depth=2, branching=2, operators="+", operand_max=2)
    problem = task.problem(0)
    tree = explicit_tree(problem)
    first = problem.levels[0][0]
    assert path_nodes(tree, (first, ("*", 99))) == [(), (first,)]
    assert path_ops("3+1=4\nnot a step\n4+1=5\n") == (("+", 1),)


def test_layout_is_hierarchical():
    task = TreePuzzle(depth=2, branching=2)
    tree = explicit_tree(task.problem(0))
    positions = hierarchical_layout(tree)
    assert positions[()][1] == 0 and all(positions[node][1] == -len(node) for node in tree)
    leaves_x = sorted(x for node, (x, _) in positions.items() if len(node) == 2)
    assert leaves_x == [0.0, 1.0, 2.0, 3.0]
    assert positions[()][0] == 1.5
