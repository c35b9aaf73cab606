"""Chapter 09's claims, read from its stored quick-mode outputs (`helpers.stored_output`): tests/test_notebooks.py fails
when those are not what the chapter prints now."""
import re
import numpy as np
from helpers import stored_output

def _arrays(text):
    "The int arrays of a printed tuple of numpy arrays."
    return [np.array([[int(x) for x in re.findall(r'-?\d+', row)] for row in re.findall(r'\[([-\d,\s]+)\]', block)])
            for block in re.findall(r'array\(\[(.*?)\]\)', text, re.S)]

def test_the_toy_rows_have_a_one_per_square_drawn():
    targs, src = _arrays(stored_output('09_multilabel', 'toy_imgs, toy_targs, toy_src = compose_digits'))
    assert targs.shape == (4, 10) and src.shape == (4, 3)
    assert (targs.sum(1) == (src >= 0).sum(1)).all()
    assert all(set(np.flatnonzero(t)) == set(s[s >= 0]) for t, s in zip(targs, src))   # one white square per class: source = class

def test_composed_digits_about_a_quarter_each_with_0_to_3():
    text = stored_output('09_multilabel', 'digits = multi_digits()')
    n = int(re.search(r'multi-digits: ([\d,]+) images', text).group(1).replace(',', ''))
    counts = [int(c.replace(',', '')) for c in re.findall(r'\d labels?: ([\d,]+)', text)]
    assert len(counts) == 4 and sum(counts) == n and all(0.2 <= c/n <= 0.3 for c in counts), counts

def test_clipart_tags_mostly_one_tag_rarely_three():
    text = stored_output('09_multilabel', 'tags = clipart_tags()')
    assert re.search(r'clipart_tags: 2,568 images, 24 classes', text), text    # the lesson's numbers
    table = stored_output('09_multilabel', 'n_tags = pd.DataFrame(')
    share = {int(t): float(s) for t, s in re.findall(r'^(\d)\s+\d+\s+\d+\s+([\d.]+)$', table, re.M)}
    assert sorted(share) == [0, 1, 2, 3] and 0.4 <= share[1] < 0.5 and share[3] < 0.02, share   # 'almost half ... under 2%'
    three = int(re.search(r'3 labels: ([\d,]+)', text).group(1).replace(',', ''))
    assert 20 <= three <= 48, three                                                              # 'a few dozen pictures'

def test_a_batch_is_64_images_and_64_multi_hot_rows():
    text = stored_output('09_multilabel', 'xb, yb = dls.valid.one_batch()')
    assert 'torch.Size([64, 3, 56, 56])' in text and 'torch.Size([64, 10])' in text
