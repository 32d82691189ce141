# shellcheck shell=bash
# Sourced by tools/typecheck and tools/lint-imports (not run on its own).
#
# The installed distribution maps top-level folders into one import package (pyproject.toml:
# dmsctl.compiler = compiler/, dmsctl.sandbox = sandbox/, ...) through the editable install's import
# hook, which neither mypy nor import-linter can follow. stage_package lays the package out as they
# expect, in build/typecheck/dmsctl/, out of symlinks to the real folders and files:
#
#   build/typecheck/dmsctl/compiler -> ../../../compiler   (also deployer, sandbox, templates, schemas)
#   build/typecheck/dmsctl/__init__.py -> ../../../src/dmsctl/__init__.py   (also __main__.py, py.typed)
#
# Fresh links every time (a part added to or removed from the mapping shows up at once); whatever
# else is in build/typecheck/ (mypy's cache) is kept.

# stage_package ROOT: stages ROOT/build/typecheck/dmsctl and sets $stage to ROOT/build/typecheck.
stage_package() {
    local root="$1" part file
    stage="$root/build/typecheck"
    rm -rf "$stage/dmsctl"
    mkdir -p "$stage/dmsctl"
    for part in compiler deployer sandbox templates schemas; do
        ln -s "../../../$part" "$stage/dmsctl/$part"
    done
    for file in __init__.py __main__.py py.typed; do
        ln -s "../../../src/dmsctl/$file" "$stage/dmsctl/$file"
    done
}

# repo_paths: rewrites staged paths at the start of a line back to repository paths
# (dmsctl/compiler/x.py -> compiler/x.py, dmsctl/__init__.py -> src/dmsctl/__init__.py).
repo_paths() {
    sed -E -e 's#^dmsctl/(compiler|deployer|sandbox|templates|schemas)/#\1/#' \
           -e 's#^dmsctl/([^/:]+\.pyi?):#src/dmsctl/\1:#'
}
