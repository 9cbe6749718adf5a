"""Makes docs/images/viewer.png, the README's picture of `gc.view`: the MNIST MLP of
examples/mnist_mlp.py trained a few epochs with fit(profile=True), its page opened in
headless chromium on the fused stage with the slowest kernel selected (its details, IR and
assembly beside it), the profile's colours and the training dashboard on top. Prints the
profile's table, which the README quotes.

    python docs/make_viewer_screenshot.py [--epochs 3] [--out docs/images/viewer.png]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "examples"))

from _common import load_digits  # noqa: E402
from mnist_mlp import build_model  # noqa: E402

import graphc as gc  # noqa: E402

# Runs after the viewer's script: the slowest kernel's row shows its ops in the fused stage;
# the first of them is selected, so its details fill the panel.
DRIVER = """<script>
document.querySelector("#overlay tr[data-stage]").click();
var linked = document.querySelector(".stage:not([hidden]) g.node.linked");
window.graphcViewer.select(linked);
document.querySelectorAll("#details details").forEach(function (d) { d.open = true; });
</script>"""


def trained_model(epochs: int, profile_path: Path):
    (x_train, y_train), _ = load_digits((784,))
    model = build_model()
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    model.fit(x_train, y_train, batch_size=100, epochs=epochs, validation_split=0.1,
              verbose=0, profile=profile_path)
    return model


def screenshot(page: Path, out: Path) -> None:
    browser = next((shutil.which(b) for b in ("chromium", "chromium-browser", "google-chrome")
                    if shutil.which(b)), None)
    if browser is None:
        sys.exit("no chromium on PATH (apt-get install chromium)")
    page.write_text(page.read_text().replace("</body>", DRIVER + "</body>"))
    subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    "--window-size=1600,1000", f"--screenshot={out.resolve()}", page.as_uri()],
                   check=True, capture_output=True, timeout=300)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--out", default=str(ROOT / "docs/images/viewer.png"))
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        model = trained_model(args.epochs, Path(folder) / "profile.json")
        page = gc.view(model, Path(folder) / "mlp.html")
        print(model.history.profile)
        screenshot(page, Path(args.out))
    print("wrote", args.out)


if __name__ == "__main__":
    main()
