"""Which packages the distribution holds (the rest of the packaging is in pyproject.toml).

Two import packages: the library ``goldenloop`` from ``src/``, and the Streamlit app
``goldenloop_app`` from the top-level ``app/`` folder. pyproject.toml alone cannot say this:
its package finder names packages after their folders, and a package called ``app`` would
shadow any other in site-packages.
"""

from setuptools import find_packages, setup

APP = "goldenloop_app"

setup(
    package_dir={"": "src", APP: "app"},
    packages=[*find_packages("src"), APP, *(f"{APP}.{name}" for name in find_packages("app"))],
)
