"""Which packages the distribution holds (the rest of the packaging is in pyproject.toml).

Two import packages: the library ``goldenloop`` from ``src/``, and the Streamlit app
``goldenloop_app`` from the top-level ``app/`` folder. pyproject.toml's package finder names a
package after its folder (an ``app`` package in site-packages would shadow any other ``app``),
and listing every package there by hand would leave each new one out of the wheel unnoticed:
here both are found, and the app's are renamed under ``goldenloop_app``.
"""

from setuptools import find_packages, setup

APP = "goldenloop_app"

setup(
    package_dir={"": "src", APP: "app"},
    packages=[*find_packages("src"), APP, *(f"{APP}.{name}" for name in find_packages("app"))],
)
