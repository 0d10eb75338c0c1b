"""Backprop mode: step through a training step phase by phase with the engine's numbers.

- :class:`~designer.stepper.panel.StepperPanel`: controls, phase strip, math panel, checks.
- :class:`~designer.stepper.view.BackpropView`: the network coloured by the phase shown.
- :func:`~designer.stepper.controller.attach_stepper`: both in a main window, as a mode.
"""

from designer.stepper.controller import StepperController, attach_stepper
from designer.stepper.panel import StepperPanel
from designer.stepper.view import BackpropView

__all__ = ["BackpropView", "StepperController", "StepperPanel", "attach_stepper"]
