"""Reports of a stored assessment: the data of each section, the HTML/PDF rendering and the
files attached to a report."""
