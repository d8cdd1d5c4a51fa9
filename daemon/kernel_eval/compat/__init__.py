"""Shims that let generated code written for older torch (TorchInductor output) run on the installed one."""
