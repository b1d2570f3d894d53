"""What gankit writes for people and for later commands.

- :mod:`~gankit.output.run_folder`: the run folder's file names, preparing and locking it, its
  JSON files and the metrics log.
- :mod:`~gankit.output.figures`: matplotlib figures (loss curves, samples over the data).
- :mod:`~gankit.output.image_grids`: image samples as PNG grids and folders, with Pillow.
- :mod:`~gankit.output.sample_files`: samples to and from .npy/.npz/.csv files and PNG folders.
- :mod:`~gankit.output.html_report`: a run or study folder as one self-contained HTML page.
"""
