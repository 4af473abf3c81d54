"""The workbook's templates: ``minicnn exercises init DIR`` copies these files into ``DIR``.

Each file is one exercise: functions with their docstring, the shapes, a hint and ``raise
NotImplementedError``. ``minicnn exercises check`` never imports these: it loads the copies in
the learner's folder, by path.
"""
