"""Paper B: how many epochs each baseline needs to level off (the plateau rule of ``paper_b.analysis``), on a
pilot trial outside the profile's trials, from one long training per dataset. Sets the ``default`` profile's
``epochs`` (one value for baselines and tuning); the record of choices cites the run.

    python -m benchmarks.paper_b_plateau [--epochs 40] [--seed 1000]
"""

from __future__ import annotations

import argparse
import dataclasses

from cpath_repro.chapters.paper_b.analysis import plateau_pilot
from cpath_repro.chapters.paper_b.settings import Settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=40, help="epochs of the pilot trainings")
    parser.add_argument("--seed", type=int, default=1000, help="the pilot trial (outside the profile's trials)")
    parser.add_argument("--profile", default="default")
    args = parser.parse_args()
    s = dataclasses.replace(Settings.of_profile(args.profile), epochs=args.epochs)
    table = plateau_pilot(s, args.seed, progress=False)
    print(table.drop(columns="curve").to_string(index=False))
    print()
    for row in table.itertuples():
        print(f"{row.dataset}: {row.curve}")


if __name__ == "__main__":
    main()
