"""The server-drawn chart's geometry: round ticks, bars inside the plot, the errors within their
bar, the second series on its own axis, a day tick at today."""

from app import charts


def test_ticks_are_round_steps_reaching_the_top():
    assert charts.nice_ticks(0) == [0, 1]
    assert charts.nice_ticks(7) == [0, 2, 4, 6, 8]
    assert charts.nice_ticks(40) == [0, 10, 20, 30, 40]
    assert charts.nice_ticks(987) == [0, 500, 1000]
    assert charts.nice_ticks(1234) == [0, 500, 1000, 1500]


def test_bars_stay_in_the_plot_with_their_errors_inside_and_credits_on_the_right_axis():
    calls, errors, credits = [0, 10, 40, 5], [0, 2, 40, 9], [0, 50, 400, 5]
    chart = charts.bar_chart(calls, part=errors, line=credits, highlight=3)
    assert [t.value for t in chart["ticks"]] == [0, 10, 20, 30, 40]
    assert [t.value for t in chart["line_ticks"]] == [0, 100, 200, 300, 400]
    for bar in chart["bars"]:
        assert chart["left"] <= bar.x and bar.x + bar.width <= chart["right"]
        assert chart["top"] <= bar.y <= chart["bottom"]
        assert bar.y <= bar.part_y and bar.part_height <= bar.height  # errors never taller than calls
    tallest = chart["bars"][2]
    assert tallest.y == chart["top"] and tallest.part_height == tallest.height
    assert chart["bars"][0].height == 0
    assert len(chart["line"].split()) == 4
    assert chart["day_ticks"][-1].value == 3 and chart["highlight"] == 3


def test_a_long_period_gets_about_six_day_ticks_ending_today():
    chart = charts.bar_chart(list(range(90)))
    indexes = [t.value for t in chart["day_ticks"]]
    assert indexes[-1] == 89 and 5 <= len(indexes) <= 7
    assert "line" not in chart
