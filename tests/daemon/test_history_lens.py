"""The daemon records each evaluation in the history, and the code lens shows the figure before it."""

from __future__ import annotations

from daemon_client import KernelEvalClient


async def test_lens_shows_the_previous_figure_and_the_setting_turns_it_off(client: KernelEvalClient):
    client.copy("model_add.py")
    custom = client.copy("model_new_add.py")
    client.set_settings(measurePerformance=True, numPerfTrials=10)

    await client.run(custom)
    [first] = await client.code_lenses(custom)
    assert first.command is not None and "(was " not in first.command.title

    await client.run(custom)
    [second] = await client.code_lenses(custom)
    assert second.command is not None and second.command.title.startswith("✓ correct · ")
    assert "(was " in second.command.title and "× at " in second.command.title

    client.set_settings(history=False)
    await client.run(custom)
    [off] = await client.code_lenses(custom)
    assert off.command is not None and "(was " not in off.command.title
