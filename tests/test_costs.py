"""Chapter 04b: the Colab T4 estimates each chapter's head carries, from the assumptions written down once. Nothing trains."""
import pytest
from classification_vs_labeling import costs as CO


def test_cost_lines_follow_the_assumptions():
    steps = CO.t4_steps('pets')
    a, n, v = CO.COLAB_T4, 7390 - 1478, 1478
    assert steps['get'] == pytest.approx(812/a['download_mb_s'] + 7390/a['decode_img_s'])
    assert steps['train'] == pytest.approx(n/270 + v/270 + 4*(n/90 + v/270) + (v + 1000)/270)
    for ch, (work, saved) in CO.FULL_MODE_WORK.items():
        line = CO.cost_line(ch)
        assert line.startswith('Full mode on a Colab T4: ') and 'not yet measured' in line
        assert str(CO.t4_minutes(work)) in line
        if saved is not None: assert 'Google Drive' in line and CO.t4_minutes(saved) <= CO.t4_minutes(work)
    assert CO.cost_line('01_activations') == ("Full mode on a Colab T4: about a minute or less, with nothing to download "
                                              "and no resnet34 to train (an estimate, not yet measured).")


def test_chapter_04s_cost_arithmetic():
    assert CO.t4_minutes([('pets', 'get')]) == round((812/20 + 7390/300)/60)
    assert CO.t4_steps('pets')['train'] == pytest.approx(5912/270 + 1478/270 + 4*(5912/90 + 1478/270) + 2478/270, rel=1e-12)
    assert CO.cost_line('04_train').startswith('Full mode on a Colab T4: about ') and 'estimate' in CO.cost_line('04_train')
    assert 'Google Drive' in CO.cost_line('06_calibration') and 'nothing to download' in CO.cost_line('01_activations')
    assert CO.cost_line('04b_costs') == CO.cost_line('03a_files') == CO.cost_line('01_activations')   # the sub-chapters download and train nothing


@pytest.mark.parametrize('bad', [float('nan'), 'abc', True, -1, 1j])
def test_scale_refused_at_the_door(bad):
    with pytest.raises(ValueError) as e: CO.t4_minutes([('pets', 'train')], scale=bad)
    assert str(e.value).startswith('scale: expected') and '\n' not in str(e.value), str(e.value)
