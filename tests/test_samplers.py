"""The sampler registry is the one place per sampler: the loader, schedules, SD3, the CLI and the canvas read it."""

from __future__ import annotations

import dataclasses

import pytest

import semanticdraw_widgets as sdw
from semanticdraw_widgets import samplers
from semanticdraw_widgets.backends import loading, schedules, sd3
from semanticdraw_widgets.backends.sd import StableDiffusionBackend
from semanticdraw_widgets.cli import build_parser
from semanticdraw_widgets.fields import FIELDS, STEPS_CHOICES


def test_every_consumer_lists_the_registrys_samplers():
    assert samplers.samplers_for("sd") == samplers.samplers_for("sdxl") == ("lcm", "tcd", "euler", "ddim")
    assert samplers.samplers_for("sd3") == ("euler", "flash")
    assert schedules.SAMPLERS == StableDiffusionBackend.samplers == samplers.samplers_for("sd")
    assert sd3.FLOW_SAMPLERS == sd3.StableDiffusion3Backend.samplers == samplers.samplers_for("sd3")
    assert loading.ALL_SAMPLERS == FIELDS["sampler"].choices == samplers.ALL_SAMPLERS
    render = build_parser()._subparsers._group_actions[0].choices["render"]
    flag = next(action for action in render._actions if "--sampler" in action.option_strings)
    assert tuple(flag.choices) == samplers.ALL_SAMPLERS


@pytest.mark.parametrize("name", samplers.VP_SAMPLERS)
def test_each_vp_sampler_builds_its_registry_scheduler_and_range(name):
    info = samplers.sampler_for(name, "sd")
    scheduler = schedules.make_scheduler(name, schedules.SD_NOISE_SCHEDULE)
    assert type(scheduler).__name__ == info.scheduler_class
    assert samplers.sampler_of_scheduler(scheduler) == name and samplers.info_of_scheduler(scheduler) is info
    for key, value in info.forced_config.items():
        assert scheduler.config[key] == value
    assert samplers.steps_range(scheduler) == (1, info.max_steps, name) == samplers.steps_range(name)
    schedule = schedules.make_vp_schedule(scheduler, 3)
    assert len(schedule) == 3
    # each sampler's published re-noise rule: LCM takes fresh noise, DDIM and Euler carry the predicted noise,
    # TCD does both (DDIM down to (1 - gamma) t_next, then fresh noise back up)
    fresh, carried = {"lcm": (True, False), "tcd": (True, True), "euler": (False, True), "ddim": (False, True)}[name]
    assert bool(schedule.fresh_noise[1:].any()) == fresh and bool(schedule.pred_noise[1:].any()) == carried


def test_a_flow_scheduler_reads_as_flow_euler_and_flash_takes_fresh_noise():
    from diffusers import FlowMatchEulerDiscreteScheduler

    scheduler = FlowMatchEulerDiscreteScheduler()
    info = samplers.info_of_scheduler(scheduler)
    assert info.flow_matching and info.name == "euler" and samplers.steps_range(scheduler) == (1, 1000, "euler")
    euler, flash = (sd3.make_flow_schedule(scheduler, 4, name) for name in ("euler", "flash"))
    assert euler.pred_noise[1:].all() and not euler.fresh_noise.any()
    assert flash.fresh_noise[1:].all() and not flash.pred_noise.any()
    with pytest.raises(ValueError, match=r"steps must be an integer between 1 and 1000 \(the flash sampler's range\)"):
        sd3.make_flow_schedule(scheduler, 1001, "flash")


def test_distilled_samplers_stop_at_their_original_inference_steps(monkeypatch):
    toy = sdw.load_backend("toy")
    assert samplers.steps_range(toy) == (1, 50, "lcm")
    # narrowing the registry alone narrows what the loader's backends, the checks and the menu allow
    narrowed = tuple(dataclasses.replace(s, max_steps=4) if s.name == "lcm" else s for s in samplers.REGISTRY)
    monkeypatch.setattr(samplers, "REGISTRY", narrowed)
    assert samplers.steps_range("lcm") == (1, 4, "lcm")
    assert samplers.steps_menu("lcm", tuple(STEPS_CHOICES)) == [1, 2, 3, 4]


def test_a_sampler_that_does_not_fit_the_family_is_refused_naming_the_choices():
    with pytest.raises(ValueError, match="sampler 'flash' does not fit sd models: choose one of lcm, tcd, euler, ddim"):
        samplers.sampler_for("flash", "sd")
    with pytest.raises(ValueError, match="the toy model has samplers lcm, tcd, euler, ddim, not 'flash'"):
        sdw.load_backend("toy", sampler="flash")
