"""Every claim of the five papers (SPEC section 4), with its decision rule fixed in advance.

Arms and metrics named here are the contract a chapter's notebook fulfils when it saves a
claim's per-seed table (``run.save_claim_table(claim_id, table)``). The rules were written
before any chapter ran and must not be changed to make a verdict come out differently.
"""

from __future__ import annotations

from dataclasses import dataclass

from cpath_repro.claims.metrics.paper_a import (
    BEST_STAIN_MAP_CORRELATION,
    CONVERGENCE,
    ERF_RADIUS_90PCT_PX,
    F1,
    STAIN_OD_ANGLE_DEG,
)
from cpath_repro.claims.metrics.paper_b import KNN_ACCURACY, SILHOUETTE, TOP1_ACCURACY
from cpath_repro.claims.metrics.paper_c import MASS_IN_TRUE_ZONE, VAL_LOSS
from cpath_repro.claims.metrics.paper_d import (
    ACCURACY,
    GRADIENT_ERROR_LIMIT,
    ISOLATED_FALSE_TUMOUR_POINTS,
    MAX_RELATIVE_GRADIENT_ERROR,
    PEAK_MEMORY_RATIO_4X_PATCHES,
    PR_AUC,
    QUADRATIC_KAPPA,
)
from cpath_repro.claims.pretraining import USES
from cpath_repro.claims.rules import AllOf, Dominates, MostUnits, Rule, Threshold
from cpath_repro.errors import UserError


@dataclass(frozen=True)
class Claim:
    id: str
    paper: str
    statement: str
    rule: Rule
    #: backbones whose ImageNet pretraining the claim rests on (see :mod:`cpath_repro.claims.pretraining`), and how
    #: the claim uses them ("frozen" or "fine-tuned"): the stand-in's probe measures it the same way
    pretrained: tuple[str, ...] = ()
    pretrained_use: str = ""
    #: why the rule's comparison answers the claim, in one line, where the comparator was chosen with care (fixed
    #: before the run; a change after a result was seen is an entry of :mod:`cpath_repro.claims.choices`)
    comparison: str = ""


    def __post_init__(self) -> None:
        if self.pretrained and self.pretrained_use not in USES:
            raise ValueError(f"Claim {self.id} rests on pretraining: say how it uses it ({' or '.join(USES)}).")


PAPERS = {
    "A": "Lahiani et al. - UNET vs CD-UNET on multistain IHC",
    "B": "Zhang et al. - HistoKT: cross knowledge transfer",
    "C": "Asawa, Homma, Sy - cervix type classification",
    "D": "Takahama et al. - multi-stage WSI classification",
    "E": "Gupta et al. - deep learning in image cytometry (review)",
}


@dataclass(frozen=True)
class Citation:
    """A paper as its own text prints it (title, authors, what it says of where it appeared): nothing here is looked
    up elsewhere, so a detail the text does not print (a venue, a year) is said to be missing, not filled in."""

    authors: str
    title: str
    venue: str
    year: str
    identifier: str = ""  # a DOI or arXiv id, or the code address the paper prints

    @property
    def short(self) -> str:
        """``Lahiani et al.``: the first author's surname."""
        first = self.authors.split(",")[0].split()[-1]
        return f"{first} et al." if "," in self.authors else first

    def __str__(self) -> str:
        return ". ".join(x for x in (self.authors, f"“{self.title}”", self.venue, self.year, self.identifier) if x) + "."


NOT_PRINTED = "Venue and year not printed in the text"
CITATIONS = {
    "A": Citation("Amal Lahiani, Jacob Gildenblat, Irina Klaman, Nassir Navab, Eldad Klaiman",
                  "Generalizing multistain immunohistochemistry tissue segmentation using one-shot color "
                  "deconvolution deep neural networks", "Preprint (the text says it was submitted to the IEEE)",
                  "Year not printed in the text"),
    "B": Citation("Ryan Zhang, Jiadai Zhu, Stephen Yang, Mahdi S. Hosseini, Angelo Genovese, Lina Chen, Corwyn "
                  "Rowsell, Savvas Damaskinos, Sonal Varma, Konstantinos N. Plataniotis",
                  "HistoKT: Cross Knowledge Transfer in Computational Pathology", NOT_PRINTED, "",
                  "Code: github.com/mahdihosseini/HistoKT"),
    "C": Citation("Chaitanya Asawa, Yushi Homma, Stuart Sy", "Deep Learning Approaches for Determining Optimal "
                  "Cervical Cancer Treatment", "Stanford University; " + NOT_PRINTED, ""),
    "D": Citation("Shusuke Takahama, Yusuke Kurose, Yusuke Mukuta, Hiroyuki Abe, Masashi Fukayama, Akihiko "
                  "Yoshizawa, Masanobu Kitagawa, Tatsuya Harada",
                  "Multi-Stage Pathological Image Classification using Semantic Segmentation", NOT_PRINTED, ""),
    "E": Citation("Anindya Gupta, Philip J. Harrison, Håkan Wieslander, Nicolas Pielawski, Kimmo Kartasalo, Gabriele "
                  "Partel, Leslie Solorzano, Amit Suveer, Anna H. Klemm, Ola Spjuth, Ida-Maria Sintorn, Carolina "
                  "Wählby", "Deep Learning in Image Cytometry: A Review", "Cytometry Part A", "2018",
                  "DOI 10.1002/cyto.a.23701"),
}

#: Arms as a reader names them, where a claim table's key is not already words ("cd-unet" reads "CD-UNET").
ARMS = {
    # paper A
    "unet": "UNET", "cd-unet": "CD-UNET", "he-only": "the H&E-only model", "multistain": "multistain training",
    "single-stain": "single-stain training", "trained": "the trained network", "untrained": "its initial weights",
    "tissue": "the tissue class", "tumour": "the tumour class", "necrosis": "the necrosis class",
    # paper B
    "deep-tuned": "deep-tuning from the source", "baseline": "the baseline", "distilled": "the weight-distilled model",
    "single-source": "single-source deep-tuning", "transferred": "the transferred model",
    "two-stage": "two-stage transfer", "single-stage": "single-stage transfer",
    # paper C
    "resnet": "ResNet features", "inception-v3": "Inception-v3 features", "none": "no extractor",
    "crop-70": "70 % cropping", "crop-100": "no cropping", "initial-only": "the initial data alone",
    "with-filtered-additional": "adding the filtered data", "unweighted": "no class weighting",
    "inverse-frequency": "inverse-frequency weighting", "moderate-weights": "moderate weighting",
    "frozen": "the frozen extractor", "fine-tuned": "the fine-tuned extractor", "ensemble": "the ensemble",
    "single": "the single model", "saliency": "saliency maps", "grad-cam": "Grad-CAM maps",
    "uniform-map": "a uniform map",
    # paper D
    "separate": "separate learning", "end-to-end": "end-to-end learning", "classifier-only": "the classifier alone",
    "segmentation-only": "segmentation alone", "imagenet-features": "ImageNet features",
    "separate-longer": "separate learning trained as long",
}


def arm_words(arm: str) -> str:
    """An arm of a claim table as a reader names it."""
    return ARMS.get(arm, arm)


CLAIMS: dict[str, Claim] = {
    c.id: c
    for c in (
        # Paper A
        Claim("A-C1", "A", "Multistain training converges more slowly and less smoothly than single-stain (H&E) training.",
              Dominates("single-stain", "multistain", CONVERGENCE, lower_is_better=True)),
        Claim("A-C2", "A", "On H&E test images the H&E-only model beats the multistain model on background, tumour "
              "and necrosis (tissue is the exception).",
              Dominates("he-only", "multistain", (F1[0], F1[1], F1[3]))),
        Claim("A-C3", "A", "CD-UNET beats UNET on the multistain test set in every class.",
              Dominates("cd-unet", "unet", F1)),
        Claim("A-C4", "A", "CD-UNET's validation F1 converges faster and more smoothly than UNET's.",
              Dominates("cd-unet", "unet", CONVERGENCE, lower_is_better=True)),
        Claim("A-C5", "A", "Activation maximization of the first-layer filters recovers stain colours.",
              Dominates("trained", "untrained", STAIN_OD_ANGLE_DEG, lower_is_better=True)),
        Claim("A-C6", "A", "The colour-deconvolution segment's outputs separate the stains.",
              Dominates("trained", "untrained", BEST_STAIN_MAP_CORRELATION),
              comparison="a 1×1 convolution on Beer–Lambert optical density correlates with the stains before any "
                         "training, so the trained segment is compared with itself at its initial weights (paired "
                         "seeds), not with a fixed |r| > 0.5"),
        Claim("A-C7", "A", "The tissue class has a larger effective receptive field than tumour and necrosis.",
              Dominates("tissue", ("tumour", "necrosis"), ERF_RADIUS_90PCT_PX)),
        # Paper B
        Claim("B-C1", "B", "Large sources (ADP, CRC, OS, BCSS) transfer positively to smaller targets.",
              MostUnits("deep-tuned", "baseline", TOP1_ACCURACY, units="source → target transfers")),
        Claim("B-C2", "B", "Small sources (GlaS, AJ-Lymph) lower target accuracy versus the baseline.",
              MostUnits("baseline", "deep-tuned", TOP1_ACCURACY, units="source → target transfers")),
        Claim("B-C3", "B", "Deep-tuning beats fine-tuning on most targets (7 of 8 in Table 4; PCam the exception).",
              MostUnits("deep-tuning", "fine-tuning", TOP1_ACCURACY, units="target datasets")),
        Claim("B-C4", "B", "Two-stage transfer (ImageNet, then source) improves most targets.",
              MostUnits("two-stage", "single-stage", TOP1_ACCURACY, units="target datasets"), pretrained=("resnet18",),
              pretrained_use="fine-tuned",
              comparison="the paper compares its Table 3 with its Table 2: two-stage against single-stage transfer "
                         "from the same source; against the random-init baseline the source stage alone passes"),
        Claim("B-C5", "B", "Weight-distilled models match or beat single-source deep-tuning.",
              Dominates("distilled", "single-source", TOP1_ACCURACY, tolerance=1.0)),
        Claim("B-C6", "B", "Transfer makes the target test set's representation more disentangled.",
              Dominates("transferred", "baseline", (KNN_ACCURACY, SILHOUETTE))),
        # Paper C
        Claim("C-C1", "C", "Pretrained feature extractors beat no extractor.",
              Dominates(("resnet", "inception-v3"), "none", VAL_LOSS, lower_is_better=True),
              pretrained=("resnet50", "inception_v3"), pretrained_use="frozen"),
        Claim("C-C2", "C", "Moderate centre cropping (about 70 %) helps a little, but the effect is volatile.",
              Dominates("crop-70", "crop-100", VAL_LOSS, lower_is_better=True)),
        Claim("C-C3", "C", "Class weighting hurts, inverse-frequency weighting most.",
              AllOf((Dominates("unweighted", ("inverse-frequency", "moderate-weights"), VAL_LOSS, lower_is_better=True),
                     Dominates("moderate-weights", "inverse-frequency", VAL_LOSS, lower_is_better=True)))),
        Claim("C-C4", "C", "Adding filtered additional data improves validation loss by a few hundredths.",
              Dominates("with-filtered-additional", "initial-only", VAL_LOSS, lower_is_better=True)),
        Claim("C-C5", "C", "A frozen feature extractor beats a fine-tuned one.",
              Dominates("frozen", "fine-tuned", VAL_LOSS, lower_is_better=True), pretrained=("resnet50",),
              pretrained_use="frozen",
              comparison="freezing an extractor only keeps what its pretraining learned: from a stand-in measured "
                         "not to pretrain, frozen against fine-tuned says nothing about the paper's ImageNet claim"),
        Claim("C-C6", "C", "The ensemble of class-weighted models beats the single model.",
              Dominates("ensemble", "single", VAL_LOSS, lower_is_better=True),
              comparison="the paper's ensemble is weighted by 0.95 − validation loss; a trial whose weights clip at 0 "
                         "or fall back to equal is not that ensemble, and the claim is then not testable at this budget"),
        Claim("C-C7", "C", "Saliency and Grad-CAM concentrate on the transformation zone.",
              Dominates(("saliency", "grad-cam"), "uniform-map", MASS_IN_TRUE_ZONE)),
        # Paper D
        Claim("D-C1", "D", "Separate and end-to-end learning beat classifier-only, segmentation-only and "
              "ImageNet-feature baselines in accuracy and PR-AUC.",
              Dominates(("separate", "end-to-end"), ("classifier-only", "segmentation-only", "imagenet-features"),
                        (ACCURACY, PR_AUC)), pretrained=("googlenet",), pretrained_use="frozen"),
        Claim("D-C2", "D", "End-to-end learning is at least as good as separate learning in PR-AUC.",
              Dominates("end-to-end", "separate-longer", PR_AUC),
              comparison="end-to-end learning is the separate model trained further, so it is compared with the "
                         "separate model trained as many more epochs with its extractor frozen (an equal budget)"),
        Claim("D-C3", "D", "End-to-end peak memory does not grow with the number of patches, and its gradients "
              "equal full back-propagation.",
              AllOf((Threshold("end-to-end", PEAK_MEMORY_RATIO_4X_PATCHES, "<", 1.25),
                     Threshold("end-to-end", MAX_RELATIVE_GRADIENT_ERROR, "<", GRADIENT_ERROR_LIMIT)))),
        Claim("D-C4", "D", "End-to-end heatmaps have fewer isolated false 'tumour points' than classifier-only.",
              Dominates("end-to-end", "classifier-only", ISOLATED_FALSE_TUMOUR_POINTS, lower_is_better=True)),
        Claim("D-C5", "D", "Patient-level pN-stage kappa improves with end-to-end learning.",
              Dominates("end-to-end", "classifier-only", QUADRATIC_KAPPA)),
    )
}


def get(claim_id: str) -> Claim:
    try:
        return CLAIMS[claim_id]
    except KeyError:
        raise UserError(f"Unknown claim {claim_id!r}; the registry has {', '.join(CLAIMS)}.") from None
