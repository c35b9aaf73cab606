"""Chapter 03c's claims, read from its stored quick-mode outputs (`helpers.stored_output`): tests/test_notebooks.py fails
when those are not what the chapter prints now. The network's answers on foolbox's photos are tests/test_offline.py's."""
import ast, re
from helpers import stored_output

def _counts(code):
    "The class counts (a printed dict) and the summary line's numbers of the cell whose source holds `code`."
    text = stored_output('03c_offline', code)
    counts = ast.literal_eval(re.search(r'^\{.*?\}', text, re.M).group(0))
    n, k = re.search(r'([\d,]+) images, (\d+) classes', text).groups()
    return text, counts, int(n.replace(',', '')), int(k)

def test_line_art_about_sixty_per_class_and_five_times_as_many_people():
    text, counts, n, k = _counts('art = clipart()')
    people = int(re.search(r'people: (\d+)', text).group(1))
    assert set(counts) == {'building', 'clothing'} and all(50 <= c <= 70 for c in counts.values()), counts
    assert people > 5*max(counts.values()) and n == sum(counts.values()) and k == 2

def test_photos_eight_classes_and_the_majority_shares():
    _, photos, n_photos, k = _counts('pics = photos()')
    _, art, n_art, _ = _counts('art = clipart()')
    assert k == len(photos) == 8 and n_photos == sum(photos.values())
    assert max(photos, key=photos.get) == 'mammal' and round(100*photos['mammal']/n_photos) == 31
    assert max(art, key=art.get) == 'clothing' and round(100*art['clothing']/n_art) == 50
    assert (round(100/n_art, 1), round(100/n_photos, 1)) == (0.9, 0.5)      # 'one picture is worth 0.9 and 0.5 points'
    assert 100 <= n_art <= 140 and 180 <= n_photos <= 220                  # 'about 120 ... about 200'

def test_imagenet_features_beat_random_ones_most_on_the_photos():
    text = stored_output('03c_offline', 'probes = pd.DataFrame(rows)')
    rows = {m[0]: (float(m[1]), float(m[2])) for m in re.findall(r'^(clipart|photos)\s+([\d.]+)\s+([\d.]+)$', text, re.M)}
    assert re.search(r'weights\s+ImageNet\s+random', text), text      # the columns, in this order
    (art_in, art_rnd), (ph_in, ph_rnd) = rows['clipart'], rows['photos']
    assert art_in > art_rnd and ph_in > ph_rnd
    assert ph_in - ph_rnd > art_in - art_rnd                           # 'by a wide margin on the photos, by less on the line art'
    assert art_rnd > 0.51                                              # random weights tell many buildings from clothing: above the majority class

def test_the_keyword_tags():
    text = stored_output('03c_offline', 'tagged = clipart_tags()')
    assert re.search(r'clipart_tags: [\d,]+ images, 24 classes', text)
