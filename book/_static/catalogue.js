/* Evidence site: make tables in a `.sortable-table` container filterable and sortable.
 * Local script, no dependencies, no network. Text is read with textContent and never
 * written back as HTML, so record text cannot become markup here. */
(function () {
  "use strict";

  function cellValue(row, index) {
    var cell = row.cells[index];
    return cell ? cell.textContent.trim() : "";
  }

  function compare(a, b) {
    var x = parseFloat(a.replace(/,/g, ""));
    var y = parseFloat(b.replace(/,/g, ""));
    if (!isNaN(x) && !isNaN(y) && /^[\d.,\s-]+$/.test(a) && /^[\d.,\s-]+$/.test(b)) {
      return x - y;
    }
    return a.localeCompare(b, undefined, { numeric: true, sensitivity: "base" });
  }

  function makeSortable(table) {
    var head = table.tHead;
    var body = table.tBodies[0];
    if (!head || !body) { return; }
    var headers = head.rows[0].cells;
    Array.prototype.forEach.call(headers, function (th, index) {
      var button = document.createElement("button");
      button.type = "button";
      button.className = "sort-button";
      button.textContent = th.textContent;
      th.textContent = "";
      th.appendChild(button);
      button.addEventListener("click", function () {
        var ascending = th.getAttribute("aria-sort") !== "ascending";
        Array.prototype.forEach.call(headers, function (other) {
          other.removeAttribute("aria-sort");
        });
        th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (r1, r2) {
          var order = compare(cellValue(r1, index), cellValue(r2, index));
          return ascending ? order : -order;
        });
        rows.forEach(function (row) { body.appendChild(row); });
      });
    });
  }

  function makeFilterable(container, table) {
    var body = table.tBodies[0];
    if (!body) { return; }
    var input = document.createElement("input");
    input.type = "search";
    input.className = "catalogue-filter";
    input.placeholder = "Filter studies (name, design, cohort...)";
    input.setAttribute("aria-label", "Filter the table");
    container.parentNode.insertBefore(input, container);
    input.addEventListener("input", function () {
      var needle = input.value.trim().toLowerCase();
      Array.prototype.forEach.call(body.rows, function (row) {
        var text = row.textContent.toLowerCase();
        row.hidden = needle !== "" && text.indexOf(needle) === -1;
      });
    });
  }

  function setUp() {
    var containers = document.querySelectorAll("div.sortable-table");
    Array.prototype.forEach.call(containers, function (container) {
      var table = container.querySelector("table");
      if (!table) { return; }
      makeSortable(table);
      makeFilterable(container, table);
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", setUp);
  } else {
    setUp();
  }
})();
