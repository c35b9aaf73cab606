"""Chapter 07's claims about its trained pairs, read from its stored quick-mode outputs (tests/test_notebooks.py fails
when they are not what the chapter prints now, so reading them is sound). Its toy example and the simulated models of
its internals notebook are checked in tests/test_ood.py."""
import re
from helpers import stored_output, stored_outputs, floats, table_row
from classification_vs_labeling.datasets import run_defaults

STEM = '07_ood'
numbers, row = floats, table_row   # the numbers of a print; those of the row of a printed DataFrame that starts with a name

def test_full_mode_holds_out_four_breeds():
    assert len(run_defaults('pets')['held_out']) == 4                    # "without its four held-out breeds"

def test_the_run_is_quick_modes_digits_with_8_and_9_as_the_near_kind():
    out = stored_output(STEM, 'preds = saved_run(')
    m = re.search(r"in-domain: (\d+) validation images of (\d+) classes \(([^)]*)\); out-of-domain: (.*); the near ones from the folders \[(.*)\]", out)
    assert m, out
    assert (int(m[1]), int(m[2])) == (800, 8) and not {'8', '9'} & set(m[3].split(', '))
    assert m[5] == "'8', '9'" and {'held-out classes', 'letters', 'photos'} == {k.split(' ', 1)[1] for k in m[4].split(', ')}

def test_the_labeler_refuses_many_unseen_images_at_the_price_of_a_few_in_domain():
    out = stored_output(STEM, 'print(f"labeler at thresh')
    nums = numbers(re.search(r'no label on (\S+)% of the (\d+) held-out in-domain images and on (\S+)%', out)[0])
    price, n_held, unseen = nums
    assert 0 < price < unseen and n_held == 400, out

def block_row(table:str, block:str, name:str) -> list[float]:
    "The numbers of row `name` in block `block` of a printed two-level DataFrame (the block's label shows on its first row only)."
    lines = table.splitlines()
    w = next(l for l in lines if l.startswith('out-of-domain')).index('score')   # where the second level's labels start
    at = None
    for l in lines:
        at = l[:w].strip() or at
        if at == block and l[w:].startswith(name + ' '): return numbers(l[w + len(name):])
    raise AssertionError(f'no row {block!r}, {name!r} in\n{table}')

def test_matched_refusals_agree_with_the_summary():
    summ, fair = stored_output(STEM, 'summ = pd.concat'), stored_output(STEM, 'fair = {}')
    refused = float(re.search(r'both refuse (\S+)% of the', fair)[1])/100
    auroc, fpr95, no_label_in, no_label_out = block_row(summ, 'all', 'bce max_sigmoid')
    assert abs(refused - no_label_in) <= 0.0015, (fair, summ)            # the classifier's cut refuses as many in-domain images
    assert abs(row(fair, 'AUROC classifier')[-1] - block_row(summ, 'all', 'ce msp')[0]) <= 0.0015
    assert abs(row(fair, 'AUROC labeler')[-1] - auroc) <= 0.0015
    assert abs(row(fair, 'labeler refuses')[-1] - no_label_out) <= 0.0015
    for kind in ('held-out classes', 'letters', 'photos'):               # every kind of unseen image is scored
        assert 0.5 < block_row(summ, kind, 'ce msp')[0] <= 1

def test_near_images_are_harder_to_refuse_than_far_ones():
    out = stored_output(STEM, "nr, fr = fair['near")
    for name in ('classifier', 'labeler'):
        a_near, a_far, r_near, r_far = numbers(re.search(rf'{name}: AUROC near .*', out)[0])
        assert a_near < a_far and r_near < r_far, out

def test_seed_0_disagrees_with_the_three_seed_result_on_far_images():
    seeds = stored_output(STEM, 'quick3 = json.loads')
    s0, s1, s2, mean, lo, hi = row(seeds, 'diff.auroc.far')
    assert s0 < 0 < min(s1, s2) and lo > 0, seeds                       # "the three-seed interval excludes 0 on the classifier's side"

def test_people_in_line_art_score_like_the_trained_classes():
    out = stored_output(STEM, "art = saved_run('clipart'")
    assert '3 epoch(s)' in out
    m = re.search(r'(\d+) validation pictures of building, clothing \((\d+) held out of the tuning\); (\d+) people;', out)
    assert m and int(m[2]) == 12 and int(m[3]) == 311, out
    ce_people, ce_in, above = map(float, re.search(r'classifier on people: mean top probability (\S+) \(in-domain (\S+)\); above 0\.9 on (\S+)%', out).groups())
    assert ce_people == ce_in == 0.855 and 45 <= above <= 55                          # "0.855 both ways, above 0.9 for half the people"
    none_people, none_in = map(float, re.search(r'no label on (\S+)% \(in-domain (\S+)%\)', out).groups())
    assert round(none_people) == 18 and round(none_in) == 25                        # "18% of the people ... fewer than the 25%"
    a_ce, a_bce = map(float, re.search(r'classifier MSP (\S+), labeler max sigmoid (\S+)\n', out).groups())
    assert (round(a_ce, 2), round(a_bce, 2)) == (0.50, 0.49)                         # "AUROC 0.50 and 0.49"
    said = dict((k, float(v)) for k, v in re.findall(r'(\{[^}]*\}) (\S+)%', out.split('what the labeler says about the people:')[1]))
    assert max(said, key=said.get) == '{clothing}' and 45 <= said['{clothing}'] <= 55 and said['{}'] == none_people   # "calls half of them clothing"

def test_its_pictures_are_stored():
    for first in ('near, far = np.array', 'targs = preds.targs', 'rng, cls = np.random', 'pick = np.random'):
        assert any(src.startswith(first) and 'image/png' in k for src, _, k in stored_outputs(STEM)), first
