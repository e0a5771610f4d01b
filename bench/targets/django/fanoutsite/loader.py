"""The template loader that gives Django the page the peers share (bench/targets/page.html),
so that the page stands in one file: it reads the file as Django's filesystem loader does and
turns the Go placeholders the peers fill ({{.Name}}, {{.Seconds}}) into the Django variables the
views pass (country.name, duration), which Django then renders (and escapes) as any template.
settings.py wraps it in Django's cached loader, so the file is read and compiled once a process.
"""
from django.template.loaders.filesystem import Loader as FilesystemLoader

PLACEHOLDERS = (("{{.Name}}", "{{ country.name }}"), ("{{.Seconds}}", "{{ duration }}"))


class Loader(FilesystemLoader):
    def get_contents(self, origin):
        text = super().get_contents(origin)
        for go, django in PLACEHOLDERS:
            if go not in text:
                raise ValueError(f"{origin.name}: no {go} placeholder for the page")
            text = text.replace(go, django)
        return text
