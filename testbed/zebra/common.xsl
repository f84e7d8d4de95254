<?xml version="1.0" encoding="UTF-8"?>
<!-- Helpers shared by the MARC21 and UNIMARC index stylesheets of the test bed's Zebra members. -->
<xsl:stylesheet xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
                xmlns:z="http://indexdata.com/zebra-2.0"
                xmlns:marc="http://www.loc.gov/MARC21/slim"
                version="1.0">

  <!-- the subfields of one field whose codes are in $codes, joined by spaces -->
  <xsl:template name="subfields">
    <xsl:param name="codes"/>
    <xsl:for-each select="marc:subfield[@code != '' and contains($codes, @code)]">
      <xsl:if test="position() &gt; 1"><xsl:text> </xsl:text></xsl:if>
      <xsl:value-of select="."/>
    </xsl:for-each>
  </xsl:template>

  <!-- emit the subfields $codes of the context field into index $name (if not empty) -->
  <xsl:template name="emit">
    <xsl:param name="name"/>
    <xsl:param name="codes"/>
    <xsl:variable name="text">
      <xsl:call-template name="subfields">
        <xsl:with-param name="codes" select="$codes"/>
      </xsl:call-template>
    </xsl:variable>
    <xsl:if test="normalize-space($text) != ''">
      <z:index name="{$name}"><xsl:value-of select="normalize-space($text)"/></z:index>
    </xsl:if>
  </xsl:template>

  <!-- emit the name part of a name or name/title field (the subfields $codes before any $t) into index $name -->
  <xsl:template name="emit-name">
    <xsl:param name="name"/>
    <xsl:param name="codes"/>
    <xsl:variable name="text">
      <xsl:for-each select="marc:subfield[@code != '' and contains($codes, @code)
                            and not(preceding-sibling::marc:subfield[@code='t']) and @code != 't']">
        <xsl:if test="position() &gt; 1"><xsl:text> </xsl:text></xsl:if>
        <xsl:value-of select="."/>
      </xsl:for-each>
    </xsl:variable>
    <xsl:if test="normalize-space($text) != ''">
      <z:index name="{$name}"><xsl:value-of select="normalize-space($text)"/></z:index>
    </xsl:if>
  </xsl:template>

  <!-- emit the title part of a name/title field ($t and the title subfields after it) into index $name -->
  <xsl:template name="emit-name-title">
    <xsl:param name="name"/>
    <xsl:variable name="text">
      <xsl:for-each select="marc:subfield[contains('tfklmnoprs', @code)
                            and (@code = 't' or preceding-sibling::marc:subfield[@code='t'])]">
        <xsl:if test="position() &gt; 1"><xsl:text> </xsl:text></xsl:if>
        <xsl:value-of select="."/>
      </xsl:for-each>
    </xsl:variable>
    <xsl:if test="normalize-space($text) != ''">
      <z:index name="{$name}"><xsl:value-of select="normalize-space($text)"/></z:index>
    </xsl:if>
  </xsl:template>

  <!-- a standard number as catalogued plus its digits-only form (first word; hyphens and qualifiers gone) -->
  <xsl:template name="stdnum">
    <xsl:param name="name"/>
    <xsl:variable name="raw" select="normalize-space(.)"/>
    <xsl:if test="$raw != ''">
      <z:index name="{$name}:w {$name}:p"><xsl:value-of select="$raw"/></z:index>
      <xsl:variable name="first" select="substring-before(concat($raw, ' '), ' ')"/>
      <xsl:variable name="digits" select="translate($first, translate($first, '0123456789Xx', ''), '')"/>
      <xsl:if test="$digits != '' and $digits != $raw">
        <z:index name="{$name}:w {$name}:p"><xsl:value-of select="$digits"/></z:index>
      </xsl:if>
      <xsl:if test="$digits != ''">
        <z:index name="Identifier-standard:w"><xsl:value-of select="$digits"/></z:index>
      </xsl:if>
    </xsl:if>
  </xsl:template>

  <!-- the first four digits of a date text such as "c2009.", "2009印刷", "[1998]" -->
  <xsl:template name="year">
    <xsl:param name="text"/>
    <xsl:variable name="digits" select="translate($text, translate($text, '0123456789', ''), '')"/>
    <xsl:if test="string-length($digits) &gt;= 4">
      <z:index name="Date:w Date-of-publication:w Date:p Date-of-publication:p Date:y Date-of-publication:y">
        <xsl:value-of select="substring($digits, 1, 4)"/>
      </z:index>
    </xsl:if>
  </xsl:template>

  <!-- Any (keywords): the text (lower-case subfields: not links, sources or pinyin) of the descriptive fields
       from $low to $high, an 880 as the field it renders; not coded data (numbers have their own indexes),
       holdings (841-878) or local fields (9xx), which say where a copy is, not what the book is -->
  <xsl:template name="any">
    <xsl:param name="low" select="100"/>
    <xsl:param name="high" select="899"/>
    <xsl:for-each select="marc:datafield">
      <xsl:variable name="t">
        <xsl:choose>
          <xsl:when test="@tag = '880'"><xsl:value-of select="substring(marc:subfield[@code='6'], 1, 3)"/></xsl:when>
          <xsl:otherwise><xsl:value-of select="@tag"/></xsl:otherwise>
        </xsl:choose>
      </xsl:variable>
      <xsl:if test="number($t) &gt;= $low and number($t) &lt;= $high and not(number($t) &gt;= 841 and number($t) &lt;= 878)
                    and $t != '880'">
        <xsl:for-each select="marc:subfield[contains('abcdefghijklmnopqrstuvwxyz', @code) and string-length(@code) = 1]">
          <z:index name="Any:w"><xsl:value-of select="."/></z:index>
        </xsl:for-each>
      </xsl:if>
    </xsl:for-each>
  </xsl:template>

  <!-- when the record was last changed: the 14 digits of 005 (yyyymmddhhmmss), one term that Zebra compares
       as a number, so a harvester can ask for what changed since its last run (Bib-1 1012) -->
  <xsl:template name="last-modified">
    <xsl:variable name="stamp" select="substring(normalize-space(marc:controlfield[@tag='005']), 1, 14)"/>
    <xsl:if test="string-length($stamp) = 14 and translate($stamp, '0123456789', '') = ''">
      <z:index name="Date/time-last-modified:y"><xsl:value-of select="$stamp"/></z:index>
    </xsl:if>
  </xsl:template>

  <xsl:template name="local-number">
    <xsl:variable name="id" select="normalize-space(marc:controlfield[@tag='001'])"/>
    <xsl:if test="$id != ''">
      <z:index name="Local-number:w Local-number:p Local-number:0"><xsl:value-of select="$id"/></z:index>
    </xsl:if>
  </xsl:template>
</xsl:stylesheet>
