import math

import numpy as np
import torch

from memlib.masks import mask_reference
from memlib.models import MLP
from memlib.scores import evaluate, memorization_score


def test_eq6_on_tensors():
    s = memorization_score(torch.tensor([2.0, 0.5, 0.1]), torch.tensor([0.5, 0.5, 0.3]))
    torch.testing.assert_close(s, torch.tensor([1.5, 0.0, -0.2]))


def test_score_by_hand():
    """x = 1 makes every hidden unit 1; class 1 reads each unit with weight 1/64, class 0 with 0.

    With k units on, the unmuted logit of class 1 is 2 * k / 64 = k / 32 and the muted one
    (32 - k) / 32, so with label 1 the score is log(1 + e^-(32-k)/32) - log(1 + e^-k/32).
    """
    model = MLP(1, 32, 2, mask_seed=7)
    with torch.no_grad():
        model.fc1.weight.fill_(1.0)
        model.fc1.bias.zero_()
        model.fc2.weight.zero_()
        model.fc2.weight[1] = 1 / 64
    idx = torch.tensor([0, 5, 77])
    ev = evaluate(model, torch.ones(3, 1), torch.ones(3, dtype=torch.long), idx)
    score = memorization_score(ev["loss_muted"], ev["loss_unmuted"])
    for j, i in enumerate(idx.tolist()):
        k = sum(mask_reference(i, 32, 0, 7))
        expect = math.log1p(math.exp(-(32 - k) / 32)) - math.log1p(math.exp(-k / 32))
        assert abs(score[j].item() - expect) < 1e-6
    assert np.all(ev["pred_full"].numpy() == 1)


def test_evaluate_matches_direct_forward():
    torch.manual_seed(0)
    model = MLP(12, 64, 4)
    x, y, idx = torch.randn(50, 12), torch.randint(0, 4, (50,)), torch.arange(100, 150)
    ev = evaluate(model, x, y, idx, batch_size=16)
    for mode in ("unmuted", "muted"):
        logits = torch.stack([model(x[i : i + 1], idx[i : i + 1], mode)[0] for i in range(50)])
        loss = torch.logsumexp(logits, 1) - logits[torch.arange(50), y]
        torch.testing.assert_close(ev[f"loss_{mode}"], loss, rtol=1e-5, atol=1e-5)
        assert torch.equal(ev[f"pred_{mode}"], logits.argmax(1))
