"""Whether the configured accelerator fits the board's device: the check ``hwsim estimate``,
``compare`` and ``study`` apply before simulating (``--no-fit-check`` skips it), and that
``hwsim.estimate.estimate(..., fit_check=True)`` applies in the library."""

from __future__ import annotations

from .errors import HwsimError


def check_fit(cfg, overrides: list[str], allow: bool = False) -> None:
    """A one-line error when the configured accelerator does not fit the board's device (resources
    from ``hwsim.resources.accel_resources``; the rule ``hwsim.resources.fit_limit``: the whole device
    for a published build, ``board.max_util`` for this project's arrays), unless ``allow``."""
    if allow:
        return
    from .resources import cfg_misfit, dsp_usage, fitting_dsp_usage, fmt_count, uses_published
    why = cfg_misfit(cfg)
    if why:
        changed = [o.strip() for o in overrides if o.strip().startswith("accel.")]
        where = f" with {', '.join(changed)}" if changed else ""
        src = (f"published build's utilisation, {dsp_usage(cfg)} DSP usage, judged against the whole device"
               if uses_published(cfg) else "resource estimate")
        other = fitting_dsp_usage(cfg)
        hint = (f"; its {other[0]} DSP usage build fits ({fmt_count(other[1]['dsp'])} DSP): "
                f"--set accel.dsp_usage={other[0]}" if other else "")
        raise HwsimError(f"accelerator {cfg.accel_name!r}{where} does not fit the {cfg.board.device} of "
                         f"{cfg.board_name!r}: {why} ({src}){hint}; pass --no-fit-check to simulate it anyway")
