"""Which files the wheel holds (the project's metadata is in pyproject.toml).

The shared ``conf/`` and ``agents/`` stay at the top of the checkout, where users edit them, and
travel in the wheel as ``neuralgraph/conf`` and ``neuralgraph/agents``. Each family folder carries
its own ``conf/`` (regimes, model and training options) and ``agents/`` (instruction documents) as
package data of the family package. pyproject.toml can either find packages or list mapped ones,
not both: here the found packages and the two mapped folders are put together, and every family
package found gets its folders' files, so a new family folder needs no edit of this file.
"""

from setuptools import find_namespace_packages, setup

FOLDERS = {"neuralgraph.conf": "conf", "neuralgraph.agents": "agents"}
#: A family folder's own configs and documents (see neuralgraph/resources.py), found as namespace
#: packages (``neuralgraph.families.metabolism.conf.regime``): their files by the package's last parts.
FAMILY_DATA = {".conf.": "*.yaml", ".agents": "*.md"}


def mapped_packages(package: str, folder: str) -> list[str]:
    """``package`` and one package per sub-folder of ``folder`` (``neuralgraph.conf.data``, …)."""
    return [package] + [f"{package}.{sub}" for sub in find_namespace_packages(where=folder)]


packages = find_namespace_packages(include=["neuralgraph", "neuralgraph.*", "hydra_plugins.*"])
data = {name: mapped_packages(name, folder) for name, folder in FOLDERS.items()}
package_data = {name: ["*.yaml"] for name in data["neuralgraph.conf"]}
package_data.update({name: ["*.md"] for name in data["neuralgraph.agents"]})
package_data.update({name: [files] for name in packages if name.startswith("neuralgraph.families.")
                     for part, files in FAMILY_DATA.items() if part in name or name.endswith(part)})
package_data["neuralgraph.data.flyvis"] = ["*.json", "*.md", "LICENSE"]

setup(
    packages=packages + [name for names in data.values() for name in names],
    package_dir=FOLDERS,
    package_data=package_data,
)
