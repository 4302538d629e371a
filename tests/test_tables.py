"""Tables that stack on a phone: each body cell carries its column's heading."""

from app.tables import stacked


def test_each_body_cell_gets_its_heading_and_one_value_box():
    html = ('<table class="calls"><caption>c</caption><thead><tr><th scope="col">When &amp; <span>where</div></th>'
            '<th colspan="2">Money</th></tr></thead><tbody><tr><th scope="row">1</th><td class="num">2 <code>x</code>'
            '</td><td>3</td></tr></tbody></table>')
    out = str(stacked(html))
    assert out.startswith('<table class="stack calls">')
    assert '<th scope="row" data-label="When &amp; where"><div class="cell">1</div></th>' in out
    assert '<td class="num" data-label="Money"><div class="cell">2 <code>x</code></div></td>' in out
    assert '<td data-label="Money"><div class="cell">3</div></td>' in out


def test_a_table_without_headings_and_text_outside_tables_are_left_alone():
    html = '<p>a</p><table><tr><td>x</td></tr></table>'
    assert str(stacked(html)) == html


def test_markdown_policy_tables_are_labelled_too(client):
    body = client.get("/cookies").get_data(as_text=True)
    assert '<table class="stack">' in body and 'data-label="' in body
